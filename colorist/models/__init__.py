"""Scorers: one protocol over CLIP-family models (transformers CLIP, BLIP ITM/ITC, SigLIP;
open_clip, CLIPS included).

    scorer = load_scorer("openai/clip-vit-base-patch32")     # hub id or local directory
    scorer = load_scorer("hf-hub:UCSC-VLAA/ViT-L-14-CLIPS-Recap-DataComp-1B")  # open_clip
    img = scorer.encode_images([rgb_uint8_array, ...])        # (N, D), L2-normalised
    txt = scorer.encode_texts(["a red car", ...])             # (M, D), L2-normalised
    scorer.similarity(img, txt)                               # (N, M) cosine
    scorer.clip_score(images, captions)                       # (N,) CLIP-S, w = 2.5
    scorer.score(images, captions)                            # (N, M) the model's own score
    load_scorer("Salesforce/blip-itm-base-coco@itc")          # score mode: itm | itc
    load_scorer("google/siglip-base-patch16-224")             # sigmoid (default) | cosine

The registry maps a name prefix to a builder (segment-anything style): ``hf-hub:`` and
``open_clip:`` go to open_clip, everything else to transformers, by the ``model_type`` of a
local folder's config.json or the words of a hub id (clip, blip, siglip). Names load on
first use (torch and transformers come with the 'train' extra).
"""

from importlib import import_module

_LAZY = {**dict.fromkeys(["MODEL_TYPE_REGISTRY", "SCORER_REGISTRY", "HFClipScorer", "HFScorer",
                          "OpenClipScorer", "Scorer", "clip_score", "load_scorer",
                          "model_type"], "colorist.models.scorer"),
         "BlipScorer": "colorist.models.blip", "SiglipScorer": "colorist.models.siglip",
         **dict.fromkeys(["build_tiny_blip", "build_tiny_clip", "build_tiny_siglip",
                          "build_word_tokenizer"], "colorist.models.tiny")}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorist.models' has no attribute {name!r}")


__all__ = sorted(_LAZY)
