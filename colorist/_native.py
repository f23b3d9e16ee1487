"""The one place that loads compiled code; records what is available and why not.

Importing colorist never fails because a backend is missing: each backend asks here, and a
missing one raises ``BackendUnavailableError`` saying how to get it.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType


class BackendUnavailableError(RuntimeError):
    """A named backend cannot run on this machine; the message says how to get it."""


@cache
def _load_cpu_extension() -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module("colorist._C"), None
    except ImportError as e:
        return None, str(e)


def cpu_extension() -> ModuleType:
    """The pybind11 extension ``colorist._C`` (csrc/)."""
    module, error = _load_cpu_extension()
    if module is None:
        raise BackendUnavailableError(
            "backend 'cpu' needs the compiled extension colorist._C, which did not import "
            f"({error}). Build it with `pip install -e .` from the source tree (needs g++ "
            "with C++17 and OpenMP), or use backend='reference'."
        )
    return module


def cpu_extension_error() -> str | None:
    """Why the CPU extension is unavailable, or None when it loads."""
    return _load_cpu_extension()[1]
