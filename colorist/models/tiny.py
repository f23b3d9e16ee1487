"""Random CLIP models built from configs (tests, benchmarks; nothing is downloaded).

``build_tiny_clip(out)`` writes a ``save_pretrained`` directory (model, tokenizer, image
processor) that ``load_scorer(out)`` and ``CLIPModel.from_pretrained(out)`` load like a hub
checkpoint. ``size="vit-b-32"`` gives CLIP ViT-B/32's shapes with random weights.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["<|startoftext|>", "<|endoftext|>"]
BASE_WORDS = " ".join([
    "a an the of in on with and is are to at by near next photo picture image",
    "red orange yellow green cyan blue purple pink brown white gray grey black",
    "car bus truck dog cat sign stop fire hydrant bear teddy sheep sink shape square circle",
    "object thing man woman person bike bicycle street road grass field sitting standing",
]).split()


def build_word_tokenizer(words: Iterable[str]):
    """A ``CLIPTokenizer`` whose BPE merges spell each of ``words`` as one token; any other
    text falls back to letters. Vocabulary: the 94 printable ASCII symbols (each also with
    ``</w>``), the merge chains, and the two special tokens."""
    from transformers import CLIPTokenizer

    symbols = [chr(b) for b in range(33, 127)]  # printable ASCII: CLIP's byte symbols for them
    vocab: dict[str, int] = {}
    for tok in [*symbols, *(s + "</w>" for s in symbols)]:
        vocab.setdefault(tok, len(vocab))
    merges: list[tuple[str, str]] = []
    seen = set()
    for word in sorted({w.lower() for w in words if re.fullmatch(r"[a-z]+", w.lower())}):
        parts = [*word[:-1], word[-1] + "</w>"]
        left = parts[0]
        for right in parts[1:]:
            if (left, right) not in seen:
                seen.add((left, right))
                merges.append((left, right))
            left = left + right
            vocab.setdefault(left, len(vocab))
    for tok in SPECIAL:
        vocab.setdefault(tok, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges)


def clip_config(size: str = "tiny", vocab_size: int = 49408, eos_token_id: int = 49407,
                image_size: int = 32, patch_size: int = 8):
    """A ``CLIPConfig``: ``"tiny"`` (2 layers, width 32) or ``"vit-b-32"`` (12 layers,
    768/512 wide, 224 px, patch 32: CLIP ViT-B/32)."""
    from transformers import CLIPConfig

    if size == "vit-b-32":
        text = {"vocab_size": vocab_size, "eos_token_id": eos_token_id,
                "bos_token_id": eos_token_id - 1, "pad_token_id": eos_token_id}
        return CLIPConfig(text_config=text, vision_config={}, projection_dim=512)
    if size != "tiny":
        raise ValueError(f"unknown size {size!r}: 'tiny' or 'vit-b-32'")
    text = {"vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 32,
            "eos_token_id": eos_token_id, "bos_token_id": eos_token_id - 1,
            "pad_token_id": eos_token_id}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
              "num_attention_heads": 2, "image_size": image_size, "patch_size": patch_size}
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)


def build_tiny_clip(out: str | Path | None = None, size: str = "tiny", seed: int = 0,
                    words: Iterable[str] = (), image_size: int = 32, patch_size: int = 8):
    """A random ``CLIPModel`` + ``CLIPProcessor``; saved to ``out`` when given.

    Returns:
        ``(model, processor)``.
    """
    import torch
    from transformers import CLIPImageProcessor, CLIPModel, CLIPProcessor

    tokenizer = build_word_tokenizer([*BASE_WORDS, *words])
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = clip_config(size, vocab_size=len(tokenizer), eos_token_id=eos,
                         image_size=image_size, patch_size=patch_size)
    side = config.vision_config.image_size
    image_processor = CLIPImageProcessor(size={"shortest_edge": side},
                                         crop_size={"height": side, "width": side})
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out))
        processor.save_pretrained(str(out))
    return model, processor
