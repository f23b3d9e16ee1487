"""CLIP's two towers split at a layer: ``prefix`` (frozen, cacheable) and ``suffix``.

``suffix(prefix(x, start), start)`` is the tower's whole forward, line for line as
transformers' ``CLIPVisionModel`` / ``CLIPTextModel`` + projection (tests check it against
``get_image_features`` / ``get_text_features``). With LoRA only on layers ``>= start`` and no
random augmentation, ``prefix`` never changes during training: the frozen-prefix cache
computes it once per image and caption.

Shapes: pixels (N, 3, S, S) -> vision hidden (N, 1 + (S/P)^2, Dv) -> image features (N, E);
ids and mask (M, L) -> text hidden (M, L, Dt) -> text features (M, E).
"""

from __future__ import annotations

import torch


def _layers(tower) -> torch.nn.ModuleList:
    return tower.encoder.layers


def vision_prefix(clip, pixel_values: torch.Tensor, stop: int) -> torch.Tensor:
    """Hidden states entering vision layer ``stop``."""
    tower = clip.vision_model
    hidden = tower.pre_layrnorm(tower.embeddings(pixel_values))
    for layer in _layers(tower)[:stop]:
        hidden = layer(hidden, None)
    return hidden


def vision_suffix(clip, hidden: torch.Tensor, start: int) -> torch.Tensor:
    """Projected image features from the hidden states entering vision layer ``start``."""
    tower = clip.vision_model
    for layer in _layers(tower)[start:]:
        hidden = layer(hidden, None)
    return clip.visual_projection(tower.post_layernorm(hidden[:, 0, :]))


def _text_mask(tower, hidden: torch.Tensor, attention_mask: torch.Tensor | None):
    from transformers.masking_utils import create_causal_mask

    return create_causal_mask(config=tower.config, inputs_embeds=hidden,
                              attention_mask=attention_mask, past_key_values=None)


def text_prefix(clip, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                stop: int) -> torch.Tensor:
    """Hidden states entering text layer ``stop``."""
    tower = clip.text_model
    hidden = tower.embeddings(input_ids=input_ids)
    mask = _text_mask(tower, hidden, attention_mask)
    for layer in _layers(tower)[:stop]:
        hidden = layer(hidden, mask, is_causal=True)
    return hidden


def text_suffix(clip, hidden: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor | None, start: int) -> torch.Tensor:
    """Projected text features from the hidden states entering text layer ``start``
    (pooled at the first end-of-text token, as transformers does)."""
    tower = clip.text_model
    mask = _text_mask(tower, hidden, attention_mask)
    for layer in _layers(tower)[start:]:
        hidden = layer(hidden, mask, is_causal=True)
    hidden = tower.final_layer_norm(hidden)
    ids = input_ids.to(torch.int)
    if tower.eos_token_id == 2:  # legacy checkpoints: the highest id is the end token
        pos = ids.argmax(dim=-1)
    else:
        pos = (ids == tower.eos_token_id).int().argmax(dim=-1)
    pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), pos]
    return clip.text_projection(pooled)


def num_layers(clip) -> tuple[int, int]:
    """(vision layers, text layers)."""
    return len(_layers(clip.vision_model)), len(_layers(clip.text_model))
