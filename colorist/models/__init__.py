"""Scorers: one protocol over CLIP-family models (HF ``CLIPModel``, open_clip).

    scorer = load_scorer("openai/clip-vit-base-patch32")     # hub id or local directory
    scorer = load_scorer("hf-hub:UCSC-VLAA/ViT-L-14-CLIPS-Recap-DataComp-1B")  # open_clip
    img = scorer.encode_images([rgb_uint8_array, ...])        # (N, D), L2-normalised
    txt = scorer.encode_texts(["a red car", ...])             # (M, D), L2-normalised
    scorer.similarity(img, txt)                               # (N, M) cosine
    scorer.clip_score(images, captions)                       # (N,) CLIP-S, w = 2.5

The registry maps a name prefix to a builder (segment-anything style): ``hf-hub:`` and
``open_clip:`` go to open_clip, everything else to transformers.
"""

from colorist.models.scorer import (
    SCORER_REGISTRY,
    HFClipScorer,
    OpenClipScorer,
    Scorer,
    clip_score,
    load_scorer,
)
from colorist.models.tiny import build_tiny_clip, build_word_tokenizer

__all__ = [
    "SCORER_REGISTRY", "HFClipScorer", "OpenClipScorer", "Scorer", "build_tiny_clip",
    "build_word_tokenizer", "clip_score", "load_scorer",
]
