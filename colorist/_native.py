"""The one place that loads compiled code; records what is available and why not.

Importing colorist never fails because a backend is missing: each backend asks here, and a
missing one raises ``BackendUnavailableError`` saying how to get it.
"""

from __future__ import annotations

import importlib
import operator
from functools import cache
from types import ModuleType
from typing import Any

# OpenMP starts one OS thread per requested thread; 100000 of them crash the process, so
# thread counts are checked here, before any native call (0 means "all cores").
MAX_THREADS = 1024


class BackendUnavailableError(RuntimeError):
    """A named backend cannot run on this machine; the message says how to get it."""


def check_threads(threads: Any) -> int:
    """``threads`` as an int in ``[0, MAX_THREADS]`` (0: all cores).

    Raises:
        ValueError: not an integer, negative, or over ``MAX_THREADS``.
    """
    try:
        n = operator.index(threads)
    except TypeError:
        raise ValueError(f"threads must be an integer, got {threads!r}") from None
    if not 0 <= n <= MAX_THREADS:
        raise ValueError(f"threads must be between 0 (all cores) and {MAX_THREADS}, got {n}")
    return n


def _param_names(fn: Any) -> list[str]:
    """Parameter names from a pybind11 function's signature line ``name(a: T, b: U = 0)``."""
    line = (getattr(fn, "__doc__", None) or "").split("\n", 1)[0]
    inner = line[line.find("(") + 1 : line.rfind(")")] if "(" in line else ""
    names, depth, start = [], 0, 0
    for i, ch in enumerate(inner + ","):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            names.append(inner[start:i].split(":")[0].strip())
            start = i + 1
    return names


class _CheckedExtension:
    """The extension module with every ``threads`` argument checked before the call."""

    def __init__(self, module: ModuleType):
        self._module = module

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._module, name)
        names = _param_names(fn) if callable(fn) else []
        if "threads" not in names:
            return fn
        position = names.index("threads")

        def checked(*args, **kwargs):
            if "threads" in kwargs:
                kwargs["threads"] = check_threads(kwargs["threads"])
            elif len(args) > position:
                args = (*args[:position], check_threads(args[position]), *args[position + 1:])
            return fn(*args, **kwargs)

        return checked


@cache
def _load_cpu_extension() -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module("colorist._C"), None
    except ImportError as e:
        return None, str(e)


def cpu_extension() -> Any:
    """The pybind11 extension ``colorist._C`` (csrc/), its ``threads`` arguments checked."""
    module, error = _load_cpu_extension()
    if module is None:
        raise BackendUnavailableError(
            "backend 'cpu' needs the compiled extension colorist._C, which did not import "
            f"({error}). Build it with `pip install -e .` from the source tree (needs g++ "
            "with C++17 and OpenMP), or use backend='reference'."
        )
    return _CheckedExtension(module)


def cpu_extension_error() -> str | None:
    """Why the CPU extension is unavailable, or None when it loads."""
    return _load_cpu_extension()[1]


def describe_auto_choice() -> str:
    """One line: the backend ``auto`` takes here, and why when it falls back.

    ``"backend: cpu"`` on a CPU machine with the extension built; ``"backend: reference
    (the compiled extension did not import: ...; ...)"`` when ``colorist._C`` is missing
    (e.g. a source tree used without ``pip install -e .``: the local ``colorist/`` shadows
    an installed package and has no build); with a GPU visible but not usable, the reasons
    of the GPU backends.
    """
    from colorist.recolor.backends import BACKENDS, get_backend
    from colorist.recolor.gpu_backends import _torch_cuda

    chosen = get_backend("auto")
    reasons = []
    if chosen.name == "reference":
        error = (cpu_extension_error() or "unknown error").splitlines()[0]
        reasons.append(f"the compiled extension did not import: {error}; build it with "
                       "`pip install -e .` from the source tree, needs g++")
    if not BACKENDS[chosen.name].on_gpu and _torch_cuda():
        for name in ("cuda", "triton"):
            why = BACKENDS[name].unavailable() if name in BACKENDS else None
            if why:
                reasons.append(why)
    return f"backend: {chosen.name}" + (f" ({'; '.join(reasons)})" if reasons else "")
