"""Object masks from text: GroundingDINO + SAM and CLIPSeg on ONNX Runtime, and
colour-aware refinement.

Stages (one module each): ``configs`` (model configs, random models), ``convert`` (official
SAM checkpoints), ``export`` (-> ONNX + manifest), ``onnx_runtime`` (sessions),
``preprocess`` (numpy pre/post-processing), ``sources`` (``GroundedSam``, ``ClipSeg``),
``refine`` (numba colour refinement). COCO polygons/RLE live in ``colorist.io.masks``.
"""

from colorist.masks.onnx_runtime import MaskModelError
from colorist.masks.refine import RefineConfig, RefineError, refine_mask
from colorist.masks.sources import MASK_SOURCES, ClipSeg, GroundedSam, MaskResult, build_mask_source

__all__ = ["MASK_SOURCES", "ClipSeg", "GroundedSam", "MaskModelError", "MaskResult",
           "RefineConfig", "RefineError", "build_mask_source", "refine_mask"]
