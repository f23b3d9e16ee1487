"""colorist: teach CLIP-family models to see colour.

Importing colorist loads no model and touches no GPU; compiled backends load on first use.
"""

from colorist._native import BackendUnavailableError
from colorist.palette import DEFAULT_PALETTE, Palette, UnknownColorError
from colorist.recolor.api import PreparedObjects, RecolorInputError, prepare, recolor
from colorist.recolor.backends import available_backends

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PALETTE", "BackendUnavailableError", "Palette", "PreparedObjects",
    "RecolorInputError", "UnknownColorError", "available_backends", "prepare", "recolor",
]
