"""Scorers: one protocol over CLIP-family models (HF ``CLIPModel``, open_clip).

    scorer = load_scorer("openai/clip-vit-base-patch32")     # hub id or local directory
    scorer = load_scorer("hf-hub:UCSC-VLAA/ViT-L-14-CLIPS-Recap-DataComp-1B")  # open_clip
    img = scorer.encode_images([rgb_uint8_array, ...])        # (N, D), L2-normalised
    txt = scorer.encode_texts(["a red car", ...])             # (M, D), L2-normalised
    scorer.similarity(img, txt)                               # (N, M) cosine
    scorer.clip_score(images, captions)                       # (N,) CLIP-S, w = 2.5

The registry maps a name prefix to a builder (segment-anything style): ``hf-hub:`` and
``open_clip:`` go to open_clip, everything else to transformers. Names load on first use
(torch and transformers come with the 'train' extra).
"""

from importlib import import_module

_LAZY = {**dict.fromkeys(["SCORER_REGISTRY", "HFClipScorer", "OpenClipScorer", "Scorer",
                          "clip_score", "load_scorer"], "colorist.models.scorer"),
         **dict.fromkeys(["build_tiny_clip", "build_word_tokenizer"], "colorist.models.tiny")}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorist.models' has no attribute {name!r}")


__all__ = [
    "SCORER_REGISTRY", "HFClipScorer", "OpenClipScorer", "Scorer", "build_tiny_clip",
    "build_word_tokenizer", "clip_score", "load_scorer",
]
