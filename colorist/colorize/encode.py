"""Training data of the colouriser: RGB -> (L input, soft-encoded ab targets).

``soft_encode`` is the op (backends ``triton``: the fused kernel of
kernels/colorize_triton.py; ``cpu``: ``soft_encode_fast``, the CPU fallback; ``numpy``:
``soft_encode_reference``, the oracle). Each target cell is ``stride x stride`` input
pixels (the network predicts at 1/4 resolution); its ab is its first pixel's, soft-encoded
over the ``k`` nearest bins with Gaussian weights ``exp(-d^2 / (2 sigma^2))`` normalised to 1
(Zhang et al. 2016, eq. 2: the paper's k = 5, sigma = 5; the released training layer uses
sigma = 10).

Shapes: ``rgb`` ``(B, H, W, 3)`` uint8 -> ``L`` ``(B, 1, H, W)`` float32 in [0, 100],
``idx`` ``(B, k, h, w)`` int64 nearest first, ``weight`` ``(B, k, h, w)`` float32,
``h = ceil(H / stride)``, ``w = ceil(W / stride)``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from colorist.colorize.bins import AB_RANGE, nearest_bins
from colorist.recolor.reference import _EPS, _KAPPA, _RGB2XYZ, _WHITE, rgb_to_lab, srgb_to_linear


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


# ---- the fast CPU path -------------------------------------------------------------------
#
# Exactly the reference's output at a fraction of its cost:
# - L: the reference's float64 formula on the luminance only, Y from three 256-entry tables of
#   the linear channel times its row of the RGB -> XYZ matrix (no a, b at full resolution);
# - ab: the reference's float64 Lab of the cells' first pixels only (1 / stride^2 of them);
# - the k nearest bins: a candidate table over ab cells of side ``TABLE_STEP`` (see
#   ``candidate_table``): each point's exact squared distances to its cell's few candidates
#   (the reference's expression, so bit-identical), ordered by (distance, index) as the
#   reference orders its k. A point whose k-th and (k + 1)-th distances are
#   equal (which of the tied bins the reference keeps is up to np.argpartition) or which lies
#   outside the table goes to the reference's ``nearest_bins``: indices and weights are the
#   reference's, bit for bit.

TABLE_STEP = 2.0  # ab units a side of a candidate-table cell
_PAD = 1e9  # the ab of the padding "bin": never among the k + 1 nearest of a table point


@dataclass(frozen=True)
class CandidateTable:
    """For every ``step`` x ``step`` ab cell of ``[-extent, extent)^2`` (row ``ia * n + ib``),
    the bins that can be among the k nearest of some point of the cell, in increasing index
    order, padded with index ``Q`` (a bin at ``_PAD``) to ``width`` columns."""

    lo: float
    step: float
    n: int
    cand: np.ndarray  # (n * n, width) intp
    bx: np.ndarray  # (Q + 1,) float64 bin a, the padding last
    by: np.ndarray  # (Q + 1,) float64 bin b

    @property
    def width(self) -> int:
        return self.cand.shape[1]


def _build_table(bins: np.ndarray, k: int, step: float, extent: float) -> CandidateTable:
    """Exact pruning: for a cell R, ``M = `` the k-th smallest ``max_{p in R} |p - b|`` over
    the bins; every point of R has k bins within M, so a bin with ``min_{p in R} |p - b| > M``
    is never among its k nearest (nor tied with the k-th). Cells are widened by 1e-6 against
    rounding in the cell lookup, and the test keeps a relative 1e-9 margin."""
    n = int(np.ceil(2 * extent / step))
    lo = -n * step / 2
    edges = lo + step * np.arange(n + 1)
    c_lo, c_hi = edges[:-1] - 1e-6, edges[1:] + 1e-6  # per axis, (n,)

    def axis_min_max(x):  # (n, Q) squared min and max distance per axis
        below, above = c_lo[:, None] - x[None], x[None] - c_hi[:, None]
        dmin = np.maximum(np.maximum(below, above), 0)
        dmax = np.maximum(np.abs(x[None] - c_lo[:, None]), np.abs(x[None] - c_hi[:, None]))
        return dmin**2, dmax**2

    amin, amax = axis_min_max(bins[:, 0])
    bmin, bmax = axis_min_max(bins[:, 1])
    dmin = (amin[:, None] + bmin[None]).reshape(n * n, -1)  # (cells, Q)
    dmax = (amax[:, None] + bmax[None]).reshape(n * n, -1)
    m = np.partition(dmax, k - 1, axis=1)[:, k - 1 : k]
    keep = dmin <= m * (1 + 1e-9) + 1e-9
    width = max(int(keep.sum(1).max()), k + 1)
    q = len(bins)
    # increasing index order, the padding (index Q) after the kept ones
    order = np.where(keep, np.arange(q), q + np.arange(q))
    cand = np.sort(order, axis=1)[:, :width]
    cand = np.where(cand >= q, q, cand).astype(np.intp)
    bx = np.append(bins[:, 0], _PAD)
    by = np.append(bins[:, 1], _PAD)
    for a in (cand, bx, by):
        a.setflags(write=False)
    return CandidateTable(float(lo), float(step), n, cand, bx, by)


@functools.lru_cache(maxsize=16)
def _cached_table(key: bytes, q: int, k: int, step: float, extent: float) -> CandidateTable:
    return _build_table(np.frombuffer(key, np.float64).reshape(q, 2), k, step, extent)


def candidate_table(bins: np.ndarray, k: int, step: float = TABLE_STEP,
                    extent: float = AB_RANGE) -> CandidateTable:
    """The ``CandidateTable`` of ``(Q, 2)`` bins for ``k`` nearest (built once, cached)."""
    b = np.ascontiguousarray(bins, np.float64).reshape(-1, 2)
    if not 1 <= k < len(b):
        raise ValueError(f"a candidate table needs 1 <= k < Q, got k={k}, Q={len(b)}")
    return _cached_table(b.tobytes(), len(b), int(k), float(step), float(extent))


def nearest_bins_fast(ab: np.ndarray, bins: np.ndarray, k: int, chunk: int = 65536
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``colorist.colorize.bins.nearest_bins``, bit for bit (see the notes above), through
    the candidate table: ``(N, k)`` int64 indices nearest first, ``(N, k)`` float64 squared
    distances."""
    if not 1 <= k <= len(bins):
        raise ValueError(f"k={k} nearest bins asked of {len(bins)} bins")
    ab = np.asarray(ab, np.float64).reshape(-1, 2)
    if k + 1 > len(bins):
        return nearest_bins(ab, bins, k)
    t = candidate_table(bins, k)
    idx = np.empty((len(ab), k), np.int64)
    dist = np.empty((len(ab), k), np.float64)
    rows = np.arange(min(chunk, len(ab)))[:, None]
    for s in range(0, len(ab), chunk):
        x = ab[s : s + chunk]
        a, b = x[:, :1], x[:, 1:]
        ia, ib = np.floor((a[:, 0] - t.lo) / t.step), np.floor((b[:, 0] - t.lo) / t.step)
        inside = (ia >= 0) & (ia < t.n) & (ib >= 0) & (ib < t.n)  # NaN: outside
        cell = np.where(inside, ia * t.n + ib, 0).astype(np.intp)
        cand = t.cand[cell]  # (m, C), increasing index
        d2 = (a - t.bx[cand]) ** 2 + (b - t.by[cand]) ** 2  # the reference's expression
        # (distance, index) order: candidates are in increasing index order, the sort stable
        # (a full sort of the few candidates beats argpartition + sorts of k + 1: measured)
        r = rows[: len(x)]
        p = np.argsort(d2, axis=1, kind="stable")[:, : k + 1]
        dd = d2[r, p]
        idx[s : s + chunk] = cand[r, p[:, :k]]
        dist[s : s + chunk] = dd[:, :k]
        redo = np.flatnonzero(~inside | (dd[:, k - 1] == dd[:, k]))
        if redo.size:
            idx[s + redo], dist[s + redo] = nearest_bins(x[redo], bins, k)
    return idx, dist


@functools.lru_cache(maxsize=1)
def _luminance_tables() -> np.ndarray:
    """``(3, 256)`` float64: each 8-bit channel's contribution to Y / Y_white."""
    lin = srgb_to_linear(np.arange(256, dtype=np.float64) / 255.0)
    out = lin[None] * (_RGB2XYZ[1] / _WHITE[1])[:, None]
    out.setflags(write=False)
    return out


def lightness(rgb: np.ndarray, native: bool = False, threads: int = 1) -> np.ndarray:
    """``(..., 3)`` uint8 -> ``(...)`` float32 CIE L*: the reference's float64 formula on Y
    from per-channel tables (equal to the reference's L after the float32 cast, up to a last
    float64 bit in the sum), or with ``native`` the compiled extension's float32 Lab (full
    Lab, 2e-5 off; ``colorist._C.rgb_to_lab``, ``threads`` 0: all cores)."""
    if native:
        from colorist._native import cpu_extension

        return cpu_extension().rgb_to_lab(rgb, threads)[..., 0]
    lut = _luminance_tables()
    flat = rgb.reshape(-1, 3)
    out = np.empty(len(flat), np.float32)
    for s in range(0, len(flat), 65536):
        c = flat[s : s + 65536]
        y = lut[0][c[:, 0]]
        y += lut[1][c[:, 1]]
        y += lut[2][c[:, 2]]
        small = y <= _EPS
        f = np.cbrt(y)
        f *= 116
        f -= 16
        f[small] = _KAPPA * y[small]
        out[s : s + 65536] = f
    return out.reshape(rgb.shape[:-1])


def native_lab_available() -> bool:
    """Whether ``colorist._C`` (its ``rgb_to_lab``) imports here."""
    from colorist._native import cpu_extension_error

    return cpu_extension_error() is None


def soft_encode_fast(rgb: np.ndarray, bins: np.ndarray, enc: SoftEncoding = SoftEncoding(),
                     native: bool = False, threads: int = 1) -> tuple[np.ndarray, ...]:
    """``soft_encode_reference``'s ``(L, idx, weight)`` at a fraction of the cost: idx and
    weight bit for bit, L equal after the float32 cast up to a last bit (``native``: the
    compiled extension's L, within 1e-4; see ``lightness``)."""
    rgb = _as_batch(rgb)
    bsz = rgb.shape[0]
    L = lightness(rgb, native, threads)
    cells = np.ascontiguousarray(rgb[:, :: enc.stride, :: enc.stride])
    h, w = cells.shape[1:3]
    ab = rgb_to_lab(cells)[..., 1:]  # the reference's float64 ab, on the cells only
    idx, d2 = nearest_bins_fast(ab.reshape(-1, 2), np.asarray(bins, np.float64), enc.k)
    wts = gaussian_weights(d2, enc.sigma)
    shape = (bsz, h, w, enc.k)
    return (L[:, None],
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


def _cpu_backend(rgb, bins, enc: SoftEncoding):
    import torch

    out = soft_encode_fast(rgb.cpu().numpy(), np.asarray(bins.cpu(), np.float64), enc)
    return tuple(torch.from_numpy(x).to(rgb.device) for x in out)


def _triton_backend(rgb, bins, enc: SoftEncoding):
    from colorist.kernels.colorize_triton import soft_encode_triton

    return soft_encode_triton(rgb, bins, enc.k, enc.sigma, enc.stride)


ENCODERS: dict[str, Callable] = {"cpu": _cpu_backend, "numpy": _numpy_backend,
                                 "triton": _triton_backend}


def default_backend(device) -> str:
    """``triton`` for CUDA tensors (or under TRITON_INTERPRET=1), else ``cpu``."""
    if str(device).startswith("cuda") or os.environ.get("TRITON_INTERPRET", "0") not in ("",
                                                                                        "0"):
        return "triton"
    return "cpu"


def soft_encode(rgb, bins, enc: SoftEncoding = SoftEncoding(), backend: str = "auto"):
    """``(B, H, W, 3)`` uint8 torch tensor -> ``(L, idx, weight)`` torch tensors on its device.

    Args:
        rgb: the images (see the module docstring for every shape).
        bins: ``(Q, 2)`` ab centres (torch or numpy).
        backend: ``auto`` (``default_backend``), ``triton``, ``cpu`` or ``numpy``.
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
