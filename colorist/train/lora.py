"""peft LoRA on chosen blocks of both CLIP towers."""

from __future__ import annotations

from collections.abc import Sequence

ATTENTION = ("q_proj", "k_proj", "v_proj", "out_proj")


def resolve_layers(n_layers: int, blocks: int | Sequence[int]) -> list[int]:
    """``blocks``: an int k (the last k blocks) or explicit indices (negative from the end).

    Raises:
        ValueError: k < 1, k > n_layers, or an index out of range.
    """
    if isinstance(blocks, int):
        if not 1 <= blocks <= n_layers:
            raise ValueError(f"blocks={blocks}: must be in 1..{n_layers}")
        return list(range(n_layers - blocks, n_layers))
    out = sorted({i % n_layers if -n_layers <= i < n_layers else n_layers + 10**9
                  for i in blocks})
    if not out or out[-1] >= n_layers:
        raise ValueError(f"layers {list(blocks)}: out of range for {n_layers} layers")
    return out


def apply_lora(clip, vision_layers: Sequence[int], text_layers: Sequence[int], r: int = 8,
               alpha: int = 16, dropout: float = 0.0, targets: Sequence[str] = ATTENTION):
    """Wrap ``clip`` (a ``CLIPModel``) with peft LoRA adapters on ``targets`` of the given
    layers of the vision and text encoders. Everything else is frozen."""
    from peft import LoraConfig, get_peft_model

    def alt(xs):
        return "|".join(str(x) for x in xs)

    pattern = (rf"(vision_model\.encoder\.layers\.({alt(vision_layers)})"
               rf"|text_model\.encoder\.layers\.({alt(text_layers)}))"
               rf"\.self_attn\.({alt(targets)})")
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=pattern,
                        bias="none")
    return get_peft_model(clip, config)
