"""Random CLIP, BLIP and SigLIP models built from configs (tests, benchmarks; nothing is
downloaded).

``build_tiny_clip(out)`` writes a ``save_pretrained`` directory (model, tokenizer, image
processor) that ``load_scorer(out)`` and ``CLIPModel.from_pretrained(out)`` load like a hub
checkpoint. ``size="vit-b-32"`` gives CLIP ViT-B/32's shapes with random weights.
``build_tiny_blip(out)`` (``BlipForImageTextRetrieval``, a BERT word-piece tokenizer) and
``build_tiny_siglip(out)`` (``SiglipModel``; the word-level CLIP tokenizer stands in for
SigLIP's sentencepiece one, which needs the ``sentencepiece`` package) do the same with
2-layer, 32-wide towers.
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
    _save(out, model, processor)
    return model, processor


# The 2-layer, 32-wide transformer of every tiny tower.
_TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 2}


def build_word_piece_tokenizer(words: Iterable[str]):
    """A ``BertTokenizer`` whose vocabulary is the special tokens, ``words`` (lower case) and
    the letters, so that each of ``words`` is one token and anything else is spelled."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    lower = sorted({w.lower() for w in words if re.fullmatch(r"[a-z]+", w.lower())})
    letters = "abcdefghijklmnopqrstuvwxyz"
    for tok in [*lower, *letters, *(f"##{c}" for c in letters), *".,!?'-"]:
        if tok not in vocab:
            vocab.append(tok)
    return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})


def _save(out, model, processor) -> None:
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out))
        processor.save_pretrained(str(out))


def build_tiny_blip(out: str | Path | None = None, seed: int = 0, words: Iterable[str] = (),
                    image_size: int = 32, patch_size: int = 8):
    """A random ``BlipForImageTextRetrieval`` (ITM head + ITC projections, width 32, 16-d
    ITC space) and its ``BlipProcessor``; saved to ``out`` when given.

    Returns:
        ``(model, processor)``.
    """
    import torch
    from transformers import (
        BlipConfig,
        BlipForImageTextRetrieval,
        BlipImageProcessorPil,
        BlipProcessor,
    )

    tokenizer = build_word_piece_tokenizer([*BASE_WORDS, *words])
    text = {**_TINY_TOWER, "vocab_size": len(tokenizer), "max_position_embeddings": 32,
            "encoder_hidden_size": 32, "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.cls_token_id, "sep_token_id": tokenizer.sep_token_id}
    # BLIP's vision config initialises with std 1e-10 (weights meant to be loaded): every
    # image would look alike; 0.02 as for the text tower.
    vision = {**_TINY_TOWER, "image_size": image_size, "patch_size": patch_size,
              "initializer_range": 0.02}
    config = BlipConfig(text_config=text, vision_config=vision, image_text_hidden_size=16)
    torch.manual_seed(seed)
    model = BlipForImageTextRetrieval(config).eval()
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": image_size, "width": image_size}),
        tokenizer=tokenizer)
    _save(out, model, processor)
    return model, processor


def build_tiny_siglip(out: str | Path | None = None, seed: int = 0, words: Iterable[str] = (),
                      image_size: int = 32, patch_size: int = 8, context_length: int = 16):
    """A random ``SiglipModel`` (width 32) and a ``SiglipProcessor``; saved to ``out`` when
    given. ``logit_scale`` / ``logit_bias`` get SigLIP's initial values (log 10, -10).

    Returns:
        ``(model, processor)``.
    """
    import math

    import torch
    from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel, SiglipProcessor

    tokenizer = build_word_tokenizer([*BASE_WORDS, *words])
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    text = {**_TINY_TOWER, "vocab_size": len(tokenizer),
            "max_position_embeddings": context_length, "pad_token_id": eos,
            "eos_token_id": eos, "bos_token_id": eos - 1}
    vision = {**_TINY_TOWER, "image_size": image_size, "patch_size": patch_size}
    torch.manual_seed(seed)
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision)).eval()
    with torch.no_grad():  # transformers initialises both to 0; the paper starts at these
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    processor = SiglipProcessor(
        image_processor=SiglipImageProcessorPil(size={"height": image_size, "width": image_size}),
        tokenizer=tokenizer)
    _save(out, model, processor)
    return model, processor
