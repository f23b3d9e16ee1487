"""Automatic colourisation (Zhang, Isola, Efros, ECCV 2016) on the project's Lab math.

    from colorist.colorize import gamut_bins, build_model, load_model, colorize

``bins`` (the in-gamut ab classes), ``encode`` (RGB -> L + soft targets; the fused Triton
kernel kernels/colorize_triton.py and its numpy reference), ``rebalance`` (ab prior, class
weights, the loss), ``model`` (ECCV16), ``weights`` (safetensors, official weights),
``decode`` (annealed mean), ``train``, ``predict``, ``evaluate`` (AuC, naming agreement,
CLIP colour choice). CLI: ``python -m colorist.colorize train|predict|eval``.
See docs/colorize.md.
"""

from colorist.colorize.bins import gamut_bins, nearest_bins
from colorist.colorize.decode import DEFAULT_T, annealed_mean
from colorist.colorize.encode import SoftEncoding, dense_targets, soft_encode, soft_encode_reference
from colorist.colorize.model import ECCV16, MODELS, build_model
from colorist.colorize.predict import colorize, contact_sheet
from colorist.colorize.weights import load_model, load_official, save_model

__all__ = [
    "DEFAULT_T", "ECCV16", "MODELS", "SoftEncoding", "annealed_mean", "build_model",
    "colorize", "contact_sheet", "dense_targets", "gamut_bins", "load_model", "load_official",
    "nearest_bins", "save_model", "soft_encode", "soft_encode_reference",
]
