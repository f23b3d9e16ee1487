"""Object masks from text: GroundingDINO + SAM and CLIPSeg on ONNX Runtime, and
colour-aware refinement.

Stages (one module each): ``configs`` (model configs, random models), ``convert`` (official
SAM checkpoints), ``export`` (-> ONNX + manifest), ``onnx_runtime`` (sessions),
``preprocess`` (numpy pre/post-processing), ``sources`` (``GroundedSam``, ``ClipSeg``),
``refine`` (numba colour refinement). COCO polygons/RLE live in ``colorist.io.masks``.
Names load on first use, so ``python -m colorist.masks --help`` works without the 'masks'
extra (onnxruntime, numba, torch, transformers).
"""

from importlib import import_module

_LAZY = {"MaskModelError": "colorist.masks.onnx_runtime",
         **dict.fromkeys(["RefineConfig", "RefineError", "refine_mask"], "colorist.masks.refine"),
         **dict.fromkeys(["MASK_SOURCES", "ClipSeg", "GroundedSam", "MaskResult",
                          "build_mask_source"], "colorist.masks.sources")}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorist.masks' has no attribute {name!r}")


__all__ = ["MASK_SOURCES", "ClipSeg", "GroundedSam", "MaskModelError", "MaskResult",
           "RefineConfig", "RefineError", "build_mask_source", "refine_mask"]
