"""Backend registry: every implementation of the recolouring contract under one interface.

A backend recolours a batch: N images ``(H_i, W_i, 3)`` uint8 RGB, N alphas ``(H_i, W_i)``
uint8 (the pre-pass's selective alpha, 0 outside the object) and an ``(N, K, NUM_PARAMS)``
float32 parameter table, into N arrays ``(K, H_i, W_i, 3)`` uint8. Inputs arrive
validated and C-contiguous (colorist.recolor.api).

GPU backends (``triton``, ``cuda``; colorist/recolor/gpu_backends.py) also accept torch
tensors and CuPy arrays, return torch tensors on the device, and have a ``pack`` step that
lays the batch out once for the hue histograms and the recolouring. ``Backend.prepare``
(identity on host backends, ``pack`` on GPU ones) then ``Backend.run_prepared`` is the one
code path that runs a batch on any backend (the bulk pipeline, colorist.recolor.batch).

``auto`` picks the available backend with the highest ``speed_rank`` (never an emulated
one, such as Triton in its CPU interpreter).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from colorist._native import BackendUnavailableError, cpu_extension, cpu_extension_error
from colorist.recolor import gpu_backends as gpu
from colorist.recolor.prepass import prepass as numpy_prepass
from colorist.recolor.reference import recolor_reference

RunFn = Callable[[Sequence[np.ndarray], Sequence[np.ndarray], np.ndarray, int], list]


@dataclass(frozen=True)
class Backend:
    """A registered backend.

    Attributes:
        name: what users pass as ``backend=``.
        speed_rank: higher is faster; ``auto`` takes the fastest available.
        run: ``run(images, alphas, params, threads) -> list of (K, H, W, 3) arrays``.
        unavailable: returns None when the backend can run here, else how to get it.
        pack: GPU backends: ``(images, alphas) -> packed batch``, which ``run`` then takes
            in place of ``images`` (with ``alphas=None``).
        emulated: True while the backend runs in an emulator (``auto`` skips it then).
        device: the torch device its outputs live on.
        prepass: ``(images, masks, sources, palette, cfg) -> (alphas, boxes)``, the
            per-object pre-pass on the arrays as the backend holds them (numpy on the
            host; GPU backends: torch on the device, alphas stay there for ``pack``).
    """

    name: str
    speed_rank: int
    run: RunFn
    unavailable: Callable[[], str | None]
    pack: Callable | None = None
    emulated: Callable[[], bool] = lambda: False
    device: Callable[[], str] = lambda: "cpu"
    prepass: Callable = numpy_prepass

    @property
    def on_gpu(self) -> bool:
        return self.pack is not None

    def prepare(self, images: Sequence, alphas: Sequence) -> Any:
        """Lay a planned batch out for ``run_prepared``: ``(images, alphas)`` as they are on
        host backends, the packed batch (``pack``) on GPU ones."""
        return (images, alphas) if self.pack is None else self.pack(images, alphas)

    def run_prepared(self, batch: Any, params: np.ndarray, threads: int = 0) -> list:
        """``run`` on what ``prepare`` returned: N ``(K, H_i, W_i, 3)`` uint8 arrays."""
        if self.pack is None:
            return self.run(*batch, params, threads)
        return self.run(batch, None, params, threads)


BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend) -> Backend:
    BACKENDS[backend.name] = backend
    return backend


def available_backends() -> list[str]:
    """Names of the backends that can run here, fastest first."""
    ok = [b for b in BACKENDS.values() if b.unavailable() is None]
    return [b.name for b in sorted(ok, key=lambda b: -b.speed_rank)]


def get_backend(name: str = "auto") -> Backend:
    """The backend called ``name`` ("auto": the fastest available).

    Raises:
        ValueError: an unknown name.
        BackendUnavailableError: a known backend that cannot run here (says how to get it).
    """
    if name == "auto":
        native = [n for n in available_backends() if not BACKENDS[n].emulated()]
        if native[0] == "reference":
            _warn_slow_auto()
        return BACKENDS[native[0]]
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from: auto, {', '.join(BACKENDS)}")
    why = BACKENDS[name].unavailable()
    if why is not None:
        raise BackendUnavailableError(why)
    return BACKENDS[name]


@cache
def _warn_slow_auto() -> None:
    """Once a process: 'auto' fell back to the slow numpy reference, and why."""
    warnings.warn(f"backend 'auto' runs the numpy reference (several times slower): "
                  f"{_cpu_unavailable()}", RuntimeWarning, stacklevel=3)


def _run_reference(images, masks, params, threads):
    return [recolor_reference(im, m, p) for im, m, p in zip(images, masks, params)]


def _run_cpu(images, masks, params, threads):
    ext = cpu_extension()
    k = params.shape[1]
    outs = [np.empty((k, *im.shape), dtype=np.uint8) for im in images]
    ext.recolor_batch(list(images), list(masks), params, outs, threads)
    return outs


def _cpu_unavailable() -> str | None:
    if cpu_extension_error() is None:
        return None
    try:
        cpu_extension()
    except BackendUnavailableError as e:
        return str(e)
    return None


def _prepass_torch_on(device: Callable[[], str]) -> Callable:
    """The torch pre-pass (colorist.recolor.prepass_torch) on a GPU backend's device
    (images elsewhere are copied there once); torch is imported on first use."""

    def run(images, masks, sources, palette, cfg):
        from colorist.recolor.prepass_torch import prepass_torch

        return prepass_torch(images, masks, sources, palette, cfg, device=device())

    return run


register_backend(Backend("reference", 0, _run_reference, lambda: None))
register_backend(Backend("cpu", 10, _run_cpu, _cpu_unavailable))
register_backend(Backend(
    "triton", 20, gpu.run_triton, gpu.triton_unavailable,
    pack=gpu.pack_triton, emulated=gpu.triton_interpreted, device=gpu.triton_device,
    prepass=_prepass_torch_on(gpu.triton_device),
))
register_backend(Backend(
    "cuda", 30, gpu.run_cuda, gpu.cuda_unavailable, pack=gpu.pack_cuda,
    device=lambda: "cuda", prepass=_prepass_torch_on(lambda: "cuda"),
))

__all__ = [
    "BACKENDS", "Backend", "BackendUnavailableError", "available_backends", "get_backend",
    "register_backend",
]
