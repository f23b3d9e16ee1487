"""Recolouring: the parameter plan, the reference, the backends and the public API.

Run ``python -m colorist.recolor --help`` for the command line.
"""

from colorist.recolor.api import PreparedObjects, RecolorInputError, prepare, recolor
from colorist.recolor.backends import available_backends, get_backend
from colorist.recolor.plan import NUM_PARAMS, PARAM_FIELDS, plan_batch, plan_params
from colorist.recolor.reference import recolor_reference

__all__ = [
    "NUM_PARAMS", "PARAM_FIELDS", "PreparedObjects", "RecolorInputError",
    "available_backends", "get_backend", "plan_batch", "plan_params", "prepare", "recolor",
    "recolor_reference",
]
