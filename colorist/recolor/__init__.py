"""Recolouring: the parameter plan, the reference, the backends and the public API.

Run ``python -m colorist.recolor --help`` for the command line.
"""

from colorist.recolor.api import RecolorInputError, recolor
from colorist.recolor.backends import available_backends, get_backend
from colorist.recolor.plan import NUM_PARAMS, PARAM_FIELDS, plan_batch, plan_params
from colorist.recolor.reference import recolor_reference

__all__ = [
    "NUM_PARAMS", "PARAM_FIELDS", "RecolorInputError", "available_backends", "get_backend",
    "plan_batch", "plan_params", "recolor", "recolor_reference",
]
