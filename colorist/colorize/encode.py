"""Training data of the colouriser: RGB -> (L input, soft-encoded ab targets).

``soft_encode`` is the op (backends ``triton``: the fused kernel of
kernels/colorize_triton.py; ``numpy``: ``soft_encode_reference``, the oracle and the CPU
fallback). Each target cell is ``stride x stride`` input pixels (the network predicts at
1/4 resolution); its ab is its first pixel's, soft-encoded over the ``k`` nearest bins with
Gaussian weights ``exp(-d^2 / (2 sigma^2))`` normalised to 1 (Zhang et al. 2016, eq. 2: the
paper's k = 5, sigma = 5; the released training layer uses sigma = 10).

Shapes: ``rgb`` ``(B, H, W, 3)`` uint8 -> ``L`` ``(B, 1, H, W)`` float32 in [0, 100],
``idx`` ``(B, k, h, w)`` int64 nearest first, ``weight`` ``(B, k, h, w)`` float32,
``h = ceil(H / stride)``, ``w = ceil(W / stride)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from colorist.colorize.bins import nearest_bins
from colorist.recolor.reference import rgb_to_lab


@dataclass(frozen=True)
class SoftEncoding:
    """Parameters of the soft encoding (see the module docstring)."""

    k: int = 5
    sigma: float = 5.0
    stride: int = 4

    def __post_init__(self) -> None:
        if self.k < 1 or self.stride < 1 or not self.sigma > 0:
            raise ValueError(f"soft encoding needs k >= 1, stride >= 1, sigma > 0: {self}")


def _as_batch(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim == 3:
        rgb = rgb[None]
    if rgb.ndim != 4 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected (B, H, W, 3) or (H, W, 3) uint8 RGB, got {rgb.dtype} "
                         f"{rgb.shape}")
    return rgb


def gaussian_weights(d2: np.ndarray, sigma: float) -> np.ndarray:
    """``(..., k)`` squared distances (nearest first) -> weights summing to 1 over k."""
    w = np.exp((d2[..., :1] - d2) / (2.0 * sigma * sigma))
    return w / w.sum(-1, keepdims=True)


def soft_encode_reference(rgb: np.ndarray, bins: np.ndarray,
                          enc: SoftEncoding = SoftEncoding()) -> tuple[np.ndarray, ...]:
    """numpy (float64 Lab) soft encoding: ``(L, idx, weight)`` as in the module docstring."""
    rgb = _as_batch(rgb)
    bsz, H, W, _ = rgb.shape
    lab = rgb_to_lab(rgb)
    cells = lab[:, :: enc.stride, :: enc.stride, 1:]
    h, w = cells.shape[1:3]
    idx, d2 = nearest_bins(cells.reshape(-1, 2), bins, enc.k)
    wts = gaussian_weights(d2, enc.sigma)
    shape = (bsz, h, w, enc.k)
    return (lab[..., 0][:, None].astype(np.float32),
            idx.reshape(shape).transpose(0, 3, 1, 2).astype(np.int64),
            wts.reshape(shape).transpose(0, 3, 1, 2).astype(np.float32))


def dense_targets(idx, weight, q: int):
    """Sparse soft targets -> dense ``(B, Q, h, w)`` distributions (numpy or torch)."""
    if isinstance(idx, np.ndarray):
        out = np.zeros((idx.shape[0], q, *idx.shape[2:]), np.float32)
        np.put_along_axis(out, idx, weight, 1)
        return out
    import torch

    out = torch.zeros((idx.shape[0], q, *idx.shape[2:]), dtype=weight.dtype, device=idx.device)
    return out.scatter_(1, idx, weight)


def _numpy_backend(rgb, bins, enc: SoftEncoding):
    import torch

    out = soft_encode_reference(rgb.cpu().numpy(), np.asarray(bins.cpu(), np.float64), enc)
    return tuple(torch.from_numpy(x).to(rgb.device) for x in out)


def _triton_backend(rgb, bins, enc: SoftEncoding):
    from colorist.kernels.colorize_triton import soft_encode_triton

    return soft_encode_triton(rgb, bins, enc.k, enc.sigma, enc.stride)


ENCODERS: dict[str, Callable] = {"numpy": _numpy_backend, "triton": _triton_backend}


def default_backend(device) -> str:
    """``triton`` for CUDA tensors (or under TRITON_INTERPRET=1), else ``numpy``."""
    if str(device).startswith("cuda") or os.environ.get("TRITON_INTERPRET", "0") not in ("",
                                                                                        "0"):
        return "triton"
    return "numpy"


def soft_encode(rgb, bins, enc: SoftEncoding = SoftEncoding(), backend: str = "auto"):
    """``(B, H, W, 3)`` uint8 torch tensor -> ``(L, idx, weight)`` torch tensors on its device.

    Args:
        rgb: the images (see the module docstring for every shape).
        bins: ``(Q, 2)`` ab centres (torch or numpy).
        backend: ``auto`` (``default_backend``), ``triton`` or ``numpy``.
    """
    import torch

    if rgb.ndim != 4 or rgb.shape[-1] != 3 or rgb.dtype != torch.uint8:
        raise ValueError(f"expected (B, H, W, 3) uint8 RGB, got {rgb.dtype} {tuple(rgb.shape)}")
    name = default_backend(rgb.device) if backend == "auto" else backend
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder backend {backend!r}: auto, {', '.join(ENCODERS)}")
    if not enc.k <= len(bins):
        raise ValueError(f"k={enc.k} nearest bins asked of {len(bins)} bins")
    return ENCODERS[name](rgb, torch.tensor(np.asarray(bins), dtype=torch.float32)
                          if isinstance(bins, np.ndarray) else bins, enc)
