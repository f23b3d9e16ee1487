"""The per-object pre-pass on torch tensors: ``colorist.recolor.prepass`` step for step.

The GPU backends (``triton``, ``cuda``) run it on the device that holds the images, so the
images never round-trip the host; only a few hundred floats per object come back (a hue
histogram, two 256-bin histograms for the body's medians, the box statistics).

Each OpenCV op of the numpy pre-pass has a torch twin that computes the same numbers:

* RGB -> HSV and RGB -> grey: OpenCV's exact 8-bit integer formulas (division tables
  ``round((255 << 12) / v)`` and ``round((180 << 12) / (6 diff))``; grey weights
  9798, 19235, 3735 over ``2**15``): identical hues, saturations and lightness.
* normalised box filters (``cv2.boxFilter``): row and column sums in float64 (as OpenCV
  sums float32 images) by cumulative sums, ``BORDER_REFLECT_101`` or ``BORDER_REFLECT``
  borders by ``cv::borderInterpolate``'s index rule.
* ``GaussianBlur`` (sigma 2, float32): the ``cv2.getGaussianKernel`` taps, a sequential
  fused multiply-add row pass and a symmetric column pass, as OpenCV's SIMD filters do.
* closing and opening with the elliptic structuring element (``cv2.MORPH_ELLIPSE``):
  dilation is the max over the element's offsets, one ``max_pool2d`` per rectangle of it,
  erosion ``-max(-x)``; pixels outside the image are ignored, as OpenCV's default
  morphology border does.
* ``distanceTransform(DIST_L2, 3)`` (a chamfer distance, steps 0.955 and 1.3693): only the
  feather band ``d < feather_px`` matters (beyond it the feather is 1). A pixel's ``d`` is
  the smallest chamfer length of a displacement that reaches a pixel outside the mask, so
  the band is a few shifted ORs of the outside, nearest distance first, with the step
  values read from the installed OpenCV.
* weighted quantiles: stable sort, cumulative weights and ``searchsorted`` as numpy does
  (S and V, integers: from weighted 256-bin histograms, the same values); medians from
  256-bin histograms; scalar divisions as true divisions on every device.

Accuracy against the numpy pre-pass (tests/test_prepass_torch.py, which also keeps the two
in step): on CPU tensors the alphas of the 7 demo objects are bit-identical, selective or
not, fitted arcs identical, source boxes within 1e-9.
"""

from __future__ import annotations

from functools import cache, reduce
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from colorist.palette import HUE_PERIOD, Color, HueArc, Palette
from colorist.recolor.plan import RELIABLE_SV, SourceBox, default_box
from colorist.recolor.prepass import (
    ACHROMATIC_CHROMA,
    COLOURED_CHROMA,
    DEFAULT_PREPASS,
    TEXTURE_SIGMA,
    PrepassConfig,
    fit_source_arc,
)
from colorist.recolor.reference import _EPS, _KAPPA, _RGB2XYZ

REFLECT_101, REFLECT = 1, 0  # the ``delta`` of cv::borderInterpolate for the two borders


# ---- pixel conversions -------------------------------------------------------------------


def rgb_to_hsv_u8(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """OpenCV's exact 8-bit RGB -> HSV (``cv2.COLOR_RGB2HSV``).

    Args:
        rgb: ``(..., 3)`` uint8 RGB.

    Returns:
        H in [0, 180), S and V in [0, 255]: three ``(...)`` int32 tensors.
    """
    r, g, b = rgb.to(torch.int32).unbind(-1)
    vmax = torch.maximum(torch.maximum(r, g), b)
    diff = vmax - torch.minimum(torch.minimum(r, g), b)
    # OpenCV's division tables, by integer division (neither quotient is ever a tie)
    sdiv = torch.where(vmax > 0, (2 * (255 << 12) + vmax) // (2 * vmax.clamp_min(1)), 0)
    hdiv = torch.where(diff > 0, (2 * (30 << 12) + diff) // (2 * diff.clamp_min(1)), 0)
    hh = torch.where(vmax == r, g - b, torch.where(vmax == g, b - r + 2 * diff,
                                                    r - g + 4 * diff))  # ties: r, then g
    hh = (hh * hdiv + 2048) >> 12
    return torch.where(hh < 0, hh + 180, hh), (diff * sdiv + 2048) >> 12, vmax


def rgb_to_grey_u8(rgb: torch.Tensor) -> torch.Tensor:
    """``cv2.COLOR_RGB2GRAY`` of ``(..., 3)`` uint8: ``(...)`` int32 in [0, 255]."""
    r, g, b = rgb.to(torch.int32).unbind(-1)
    return (r * 9798 + g * 19235 + b * 3735 + (1 << 14)) >> 15


def lightness(rgb: torch.Tensor) -> torch.Tensor:
    """CIELAB L (D65) of ``(..., 3)`` uint8 sRGB in float64, as ``reference.rgb_to_lab``."""
    c = rgb.to(torch.float64) / 255.0
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = lin @ torch.as_tensor(_RGB2XYZ[1], dtype=torch.float64, device=rgb.device)
    f = torch.where(y > _EPS, y.clamp_min(0) ** (1 / 3), 7.787 * y + 16 / 116)
    return torch.where(y > _EPS, 116 * f - 16, _KAPPA * y)


# ---- filters -----------------------------------------------------------------------------


@cache
def _border_index(n: int, r: int, delta: int) -> np.ndarray:
    """Source index of each of ``n + 2r`` padded positions (``cv::borderInterpolate``;
    ``delta`` 1: BORDER_REFLECT_101, 0: BORDER_REFLECT), repeated reflection included."""
    out = np.empty(n + 2 * r, dtype=np.int64)
    for i, p in enumerate(range(-r, n + r)):
        while n > 1 and not 0 <= p < n:
            p = -p - 1 + delta if p < 0 else 2 * n - 1 - p - delta
        out[i] = p if n > 1 else 0
    return out


def _pad(x: torch.Tensor, r: int, dim: int, delta: int) -> torch.Tensor:
    idx = torch.from_numpy(_border_index(x.shape[dim], r, delta)).to(x.device)
    return x.index_select(dim, idx)


def _window_sum(x: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """float64 sums of ``k`` consecutive entries along ``dim`` (length shrinks by ``k - 1``):
    ``c[i + k - 1] - c[i - 1]`` of the running sum ``c``."""
    c = torch.cumsum(x, dim, dtype=torch.float64)
    n = x.shape[dim] - k + 1
    sums = c.narrow(dim, k - 1, n).clone()
    sums.narrow(dim, 1, n - 1).sub_(c.narrow(dim, 0, n - 1))
    return sums


def box_filter(x: torch.Tensor, k: int, delta: int = REFLECT_101) -> torch.Tensor:
    """``cv2.boxFilter(x, -1, (k, k), borderType=...)`` of float32 ``(..., H, W)`` maps
    (each on its own): window sums in float64, as OpenCV sums float32 images, scaled,
    then float32."""
    r = k // 2
    rows = _window_sum(_pad(x, r, -1, delta), k, -1)
    sums = _window_sum(_pad(rows, r, -2, delta), k, -2)
    return (sums * (1.0 / (k * k))).to(torch.float32)


def _fma(acc: torch.Tensor, w: float, x: torch.Tensor) -> torch.Tensor:
    """float32 ``acc + w * x`` rounded once (a fused multiply-add, as OpenCV's SIMD)."""
    return (acc.to(torch.float64) + w * x.to(torch.float64)).to(torch.float32)


@cache
def _gaussian_taps(sigma: float) -> tuple[float, ...]:
    k = int(np.rint(sigma * 4 * 2 + 1)) | 1  # OpenCV's size for float images
    return tuple(float(t) for t in cv2.getGaussianKernel(k, sigma, cv2.CV_32F).ravel())


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``cv2.GaussianBlur(x, (0, 0), sigma)`` of a float32 ``(H, W)`` map (REFLECT_101)."""
    taps = _gaussian_taps(sigma)
    r, (h, w) = len(taps) // 2, x.shape
    xp = _pad(_pad(x, r, 1, REFLECT_101), r, 0, REFLECT_101)
    rows = xp[:, :w] * taps[0]
    for i in range(1, len(taps)):  # the row filter: taps in order
        rows = _fma(rows, taps[i], xp[:, i : i + w])
    out = rows[r : r + h] * taps[r]
    for i in range(1, r + 1):  # the column filter folds the symmetric taps
        out = _fma(out, taps[r + i], rows[r + i : r + i + h] + rows[r - i : r - i + h])
    return out


@cache
def _ellipse_blocks(size: int) -> tuple[tuple[int, int, int, int], ...]:
    """``cv2.MORPH_ELLIPSE`` of ``size`` as rectangles ``(row, rows, column, columns)``:
    its rows are single runs, and consecutive rows with the same run make one block."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    blocks: list[list[int]] = []
    for dy, row in enumerate(disc):
        cols = np.flatnonzero(row)
        if not len(cols):
            continue
        x0, n = int(cols[0]), int(cols[-1] - cols[0] + 1)
        if blocks and blocks[-1][2:] == [x0, n] and sum(blocks[-1][:2]) == dy:
            blocks[-1][1] += 1
        else:
            blocks.append([dy, 1, x0, n])
    return tuple(tuple(b) for b in blocks)


def dilate(x: torch.Tensor, size: int) -> torch.Tensor:
    """``cv2.dilate`` of a float32 ``(H, W)`` map by the ``size`` ellipse: the max over its
    rectangles (one ``max_pool2d`` each), pixels outside the image ignored as OpenCV's
    default border does."""
    h, w = x.shape
    r = size // 2
    xp = F.pad(x[None], (r, r, r, r), value=float("-inf"))
    out = None
    for y0, m, x0, n in _ellipse_blocks(size):
        block = xp[:, y0 : y0 + h + m - 1, x0 : x0 + w + n - 1]
        if m * n > 1:
            block = F.max_pool2d(block, (m, n), stride=1)
        out = block if out is None else torch.maximum(out, block)
    return out[0]


def erode(x: torch.Tensor, size: int) -> torch.Tensor:
    """``cv2.erode`` of a float32 ``(H, W)`` map by the ``size`` ellipse."""
    return -dilate(-x, size)


def guided_filter(guide: torch.Tensor, p: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter, as ``prepass.guided_filter`` (boxes: BORDER_REFLECT).

    Args:
        guide: ``(H, W)`` float32 in [0, 1].
        p: ``(H, W)`` float32, the map to refine.
    """
    k = 2 * radius + 1
    mean_i, mean_p, corr_i, corr_ip = box_filter(
        torch.stack([guide, p, guide * guide, guide * p]), k, REFLECT)
    var_i = corr_i - mean_i * mean_i
    a = (corr_ip - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    mean_a, mean_b = box_filter(torch.stack([a, b]), k, REFLECT)
    return mean_a * guide + mean_b


@cache
def _chamfer_steps() -> tuple[float, float]:
    """The orthogonal and diagonal steps of ``cv2.distanceTransform(DIST_L2, 3)``, read
    from OpenCV itself (4.x: fixed-point 0.955 and 1.3693; 5.x: the float32 values)."""
    probe = np.ones((5, 5), np.uint8)
    probe[2, 2] = 0
    d = cv2.distanceTransform(probe, cv2.DIST_L2, 3)
    return float(d[2, 1]), float(d[1, 1])


@cache
def _chamfer_levels(feather_px: float) -> tuple[tuple[float, tuple], ...]:
    """The chamfer distances below ``feather_px``, each with the displacements at that
    distance, ascending: ``k`` diagonal and ``m - k`` orthogonal steps for ``(k, m)`` the
    sorted absolute displacement, summed in float32 from the step values OpenCV uses."""
    step, diag = _chamfer_steps()
    reach = int(feather_px / step) + 1
    levels: dict[float, list] = {}
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            k, m = sorted((abs(dy), abs(dx)))
            d = np.float32(0)
            for s in [diag] * k + [step] * (m - k):
                d = np.float32(d + np.float32(s))
            if 0 < d < feather_px:
                levels.setdefault(float(d), []).append((dy, dx))
    return tuple((d, tuple(levels[d])) for d in sorted(levels))


def edge_feather(inside: torch.Tensor, feather_px: float) -> torch.Tensor:
    """1 deep inside the mask, ``d / feather_px`` nearer its edge, 0 outside: ``d`` is
    ``cv2.distanceTransform(DIST_L2, 3)``'s chamfer distance to the nearest pixel outside
    the mask or the image, needed only below ``feather_px``; float32 ``(H, W)``."""
    h, w = inside.shape
    levels = _chamfer_levels(float(feather_px))
    r = max((max(abs(dy), abs(dx)) for _, offs in levels for dy, dx in offs), default=0)
    out = F.pad(inside == 0, (r, r, r, r), value=True)
    d = torch.full((h, w), float(feather_px), dtype=torch.float32, device=inside.device)
    for dist, offsets in reversed(levels):  # the nearer levels overwrite the farther
        shifted = (out[r + dy : r + dy + h, r + dx : r + dx + w] for dy, dx in offsets)
        d = torch.where(reduce(torch.logical_or, shifted), dist, d)
    return torch.where(inside > 0, _div(d, feather_px), 0.0).clamp(0.0, 1.0)


# ---- membership --------------------------------------------------------------------------


def _div(x: torch.Tensor, d: float) -> torch.Tensor:
    """``x / d`` divided in ``x``'s dtype, as numpy divides by a Python number: ``d`` as a
    0-dim tensor on ``x``'s device (CUDA multiplies by the reciprocal of a host scalar,
    which is 1 ulp off at times)."""
    return x / torch.full((), d, dtype=x.dtype, device=x.device)


def _ramp(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """0 at ``lo``, 1 at ``hi``, linear between (``lo > hi``: a falling ramp); float32."""
    return torch.clamp(_div(x - lo, hi - lo), 0.0, 1.0)


def _arc_distance(h: torch.Tensor, arc: HueArc) -> torch.Tensor:
    """Circular distance (float32) from hues to an arc; 0 inside (``palette._arc_distance``)."""
    u = torch.remainder(h.to(torch.float64) - arc.lo, HUE_PERIOD)
    outside = torch.minimum(u - arc.width, HUE_PERIOD - u)
    return torch.where(u >= arc.width, outside, 0.0).to(torch.float32)


def _hist_median(counts: np.ndarray) -> float:
    """``np.median`` of the integers whose histogram is ``counts``."""
    n, cum = int(counts.sum()), np.cumsum(counts)
    lo, hi = (int(np.searchsorted(cum, m, side="right")) for m in ((n - 1) // 2, n // 2))
    return (lo + hi) / 2


def _body_medians(s: torch.Tensor, v: torch.Tensor, core: torch.Tensor) -> tuple[float, float]:
    """Median S and V of the ``core`` pixels (128 each with fewer than 16 of them)."""
    counts = torch.stack([torch.bincount(x[core], minlength=256) for x in (s, v)]).cpu()
    if counts[0].sum() < 16:
        return 128.0, 128.0
    return _hist_median(counts[0].numpy()), _hist_median(counts[1].numpy())


def _fit_arc(hsv: tuple, sv: torch.Tensor, rel: torch.Tensor, inside: torch.Tensor,
             color: Color, cfg: PrepassConfig) -> HueArc | None:
    """``fit_source_arc`` on the S x V weighted hue histogram, built on the device."""
    sel = inside > 0
    weights = _div((sv * rel)[sel], 255.0).to(torch.float64)
    hist = torch.bincount(hsv[0][sel], weights=weights, minlength=180)
    return fit_source_arc(hist.cpu().numpy(), color, cfg.min_arc_weight)


def _membership_chromatic(hsv: tuple, inside: torch.Tensor, color: Color,
                          cfg: PrepassConfig) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(membership, veto, fitted arc): ``prepass._membership_chromatic`` on tensors."""
    s, v = (c.to(torch.float32) for c in hsv[1:])
    sv = _div(s * v, 255.0)
    rel = _ramp(sv, *RELIABLE_SV) * inside
    arc = _fit_arc(hsv, sv, rel, inside, color, cfg)
    arc_m = torch.clamp(1.0 - _div(_arc_distance(hsv[0], arc or color.hue), cfg.hue_feather),
                        0.0, 1.0)
    s_body, v_body = _body_medians(hsv[1], hsv[2], (arc_m * rel) > 0.5)
    s_ok = _ramp(s, cfg.part_s[0] * s_body, cfg.part_s[1] * s_body)
    hue_m = arc_m * s_ok
    k = 2 * cfg.fill_radius + 1
    num, den = box_filter(torch.stack([hue_m * rel, rel]), k)
    fill = torch.where(den > 0.02, num / den.clamp_min(1e-6), 0.0)
    dark = torch.minimum(_ramp(v, *cfg.shadow_v), _ramp(v, v_body, cfg.shadow_rel * v_body))
    member = rel * hue_m + (1.0 - rel) * dark * fill * s_ok  # neutral dark: no fill
    veto = torch.maximum(rel * (1.0 - arc_m), (1.0 - s_ok) * (1.0 - dark))
    return erode(dilate(member, cfg.close_px), cfg.close_px), veto, arc


def _percentile(x: torch.Tensor, q: float) -> float:
    """``np.percentile(x, q)`` (linear) of a float32 tensor; numpy interpolates in float32."""
    xs = torch.sort(x).values
    n = xs.numel()
    idx = (n - 1) * (q / 100)
    lo = int(np.floor(idx))
    a, b = (np.float32(t) for t in xs[[lo, min(lo + 1, n - 1)]].tolist())
    t, diff = idx - lo, b - a
    return float(b - diff * np.float32(1 - t) if t >= 0.5 else a + diff * np.float32(t))


def _membership_achromatic(hsv: tuple, inside: torch.Tensor, color: Color,
                           palette: Palette) -> tuple[torch.Tensor, torch.Tensor]:
    """(membership, veto) of white, gray or black: ``prepass._membership_achromatic``."""
    s, v = hsv[1].to(torch.float32), hsv[2].to(torch.float32)
    chroma = _div(s * v, 255.0)
    v = gaussian_blur(v, TEXTURE_SIGMA)
    t = palette.thresholds
    plain, coloured = _ramp(chroma, *ACHROMATIC_CHROMA), _ramp(chroma, *COLOURED_CHROMA)
    if color.name == "black":
        return _ramp(v, t.black_v_max + 35, t.black_v_max), coloured
    lit = (plain * inside) > 0.5
    n_lit = int(lit.sum())
    v_top = _percentile(v[lit], 90) if n_lit >= 16 else 255.0
    if color.name == "white":
        return plain * _ramp(v, 0.42 * v_top, 0.6 * v_top), coloured
    return plain * _ramp(v, t.black_v_max - 10, t.black_v_max + 20), coloured


# ---- one object --------------------------------------------------------------------------


def _crop(inside: torch.Tensor, margin: int) -> tuple[slice, slice] | None:
    """The mask's bounding box grown by ``margin`` (clipped to the image); None if empty."""
    h, w = inside.shape
    ys = torch.arange(h, device=inside.device)
    xs = torch.arange(w, device=inside.device)
    rows, cols = inside.any(1), inside.any(0)
    y0, y1, x0, x1 = torch.stack([
        torch.where(rows, ys, h).min(), torch.where(rows, ys, -1).max(),
        torch.where(cols, xs, w).min(), torch.where(cols, xs, -1).max()]).tolist()
    if y1 < 0:
        return None
    return (slice(max(y0 - margin, 0), min(y1 + margin + 1, h)),
            slice(max(x0 - margin, 0), min(x1 + margin + 1, w)))


def _selective_member(rgb: torch.Tensor, inside: torch.Tensor, color: Color,
                      palette: Palette, cfg: PrepassConfig) -> tuple[torch.Tensor, Any]:
    """Membership in the source colour, refined edge-aware (``object_alpha``'s selective
    branch): ``(H, W)`` float32 and the fitted arc."""
    hsv = rgb_to_hsv_u8(rgb)
    inside_f = inside.to(torch.float32)
    arc = None
    if color.chromatic:
        member, veto, arc = _membership_chromatic(hsv, inside_f, color, cfg)
    else:
        member, veto = _membership_achromatic(hsv, inside_f, color, palette)
    grey = _div(rgb_to_grey_u8(rgb).to(torch.float32), 255.0)
    veto = dilate(erode(veto, cfg.close_px), cfg.close_px)  # whole parts only
    member = guided_filter(grey, member * inside_f, cfg.guide_radius, cfg.guide_eps)
    return _ramp(member * (1.0 - veto), *cfg.alpha_ramp), arc


def _alpha_into(out: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, color: Color,
                palette: Palette, cfg: PrepassConfig) -> SourceBox:
    """Write one object's alpha into ``out`` (zeros, ``(H, W)`` uint8); its source box."""
    crop = _crop(mask > 0, cfg.guide_radius + cfg.fill_radius + 2)
    if crop is None:
        return default_box(color)
    rgb, inside = image[crop], (mask[crop] > 0).to(torch.uint8)
    member, arc = torch.ones(inside.shape, device=rgb.device), None
    if cfg.selective:
        member, arc = _selective_member(rgb, inside, color, palette, cfg)
    a = torch.clamp(member, 0.0, 1.0) * edge_feather(inside, cfg.feather_px) * inside
    out[crop] = torch.round(a * 255.0).to(torch.uint8)
    return source_box(rgb, out[crop], color, arc, cfg)


def _as_tensor(x: Any, device: torch.device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if hasattr(x, "__cuda_array_interface__"):  # CuPy: a view of the same memory
        return torch.as_tensor(x, device="cuda").to(device)
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


def object_alpha_torch(
    image: Any,
    mask: Any,
    color: Color,
    palette: Palette,
    cfg: PrepassConfig = DEFAULT_PREPASS,
) -> tuple[torch.Tensor, SourceBox]:
    """Alpha map and source box of one object, on the image's device (``object_alpha``).

    Args:
        image: ``(H, W, 3)`` uint8 RGB: a torch tensor (any device), numpy or CuPy array.
        mask: ``(H, W)``; > 0 marks the object (moved to the image's device).
        color: the colour the caption names for the object.

    Returns:
        ``(H, W)`` uint8 alpha on the image's device (0 outside the mask), and the
        object's ``SourceBox``.
    """
    device = _default_device([image])
    image = _as_tensor(image, device)
    alpha = torch.zeros(image.shape[:2], dtype=torch.uint8, device=device)
    return alpha, _alpha_into(alpha, image, _as_tensor(mask, device), color, palette, cfg)


# ---- statistics --------------------------------------------------------------------------


def _weighted_quantiles(x: torch.Tensor, w: torch.Tensor, qs: tuple[float, ...]):
    """``prepass._weighted_quantiles`` on the device: a ``(len(qs),)`` tensor of values."""
    xs, order = torch.sort(x, stable=True)
    cum = torch.cumsum(w[order], 0)
    targets = torch.tensor(qs, dtype=torch.float64, device=x.device) * cum[-1]
    return xs[torch.searchsorted(cum, targets).clamp_max(len(xs) - 1)]


def _weighted_quantiles_u8(x: torch.Tensor, w: torch.Tensor, qs: tuple[float, ...]):
    """``_weighted_quantiles`` of integers in [0, 255] with positive integer weights, from
    a weighted histogram (no sort): the same values, as every partial sum is exact."""
    cum = torch.cumsum(torch.bincount(x, weights=w, minlength=256), 0)
    targets = torch.tensor(qs, dtype=torch.float64, device=x.device) * cum[-1]
    return torch.searchsorted(cum, targets).to(torch.float64)


def source_box(rgb: torch.Tensor, alpha: torch.Tensor, color: Color, arc: HueArc | None,
               cfg: PrepassConfig = DEFAULT_PREPASS) -> SourceBox:
    """``prepass.source_box`` on the device: alpha-weighted S, V, L quantiles and mean L.

    Args:
        rgb: ``(..., 3)`` uint8 pixels; ``alpha``: their ``(...)`` uint8 alpha.
    """
    sel = alpha > 0
    px, w = rgb[sel], alpha[sel].to(torch.float64)
    n = len(px)
    if n == 0:
        return default_box(color)
    if n > cfg.stat_samples:  # the same strided sample as the numpy pre-pass
        step = n / cfg.stat_samples
        take = (torch.arange(cfg.stat_samples, dtype=torch.float64, device=px.device)
                * step).to(torch.int64)
        px, w = px[take], w[take]
    _, s, v = rgb_to_hsv_u8(px)
    light = lightness(px)
    l_mean = (light * w).sum() / w.sum()
    figures = torch.cat([_weighted_quantiles_u8(s, w, (0.05, 0.95)),
                         _weighted_quantiles_u8(v, w, (0.05, 0.95)),
                         l_mean[None], _weighted_quantiles(light, w, (0.05, 0.95)),
                         alpha.sum(dtype=torch.float64)[None] / 255.0])
    s_lo, s_hi, v_lo, v_hi, l_mean, l_lo, l_hi, weight = figures.tolist()
    return SourceBox(arc, (s_lo, s_hi), (v_lo, v_hi), l_mean, weight, (l_lo, l_hi))


# ---- a batch -----------------------------------------------------------------------------


def _default_device(images) -> torch.device:
    """The device of the first torch image; else CUDA when present, else the CPU."""
    for im in images:
        if isinstance(im, torch.Tensor):
            return im.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def prepass_torch(
    images, masks, sources, palette: Palette, cfg: PrepassConfig = DEFAULT_PREPASS,
    device: Any = None,
) -> tuple[list[torch.Tensor], list[SourceBox]]:
    """``object_alpha_torch`` over a batch: N alphas and N source boxes.

    Args:
        images: N ``(H_i, W_i, 3)`` uint8 RGB (torch tensors, numpy or CuPy arrays).
        masks: N ``(H_i, W_i)``; > 0 marks the object.
        sources: N colour names.
        device: where to compute (default: the first torch image's device, else CUDA when
            present, else the CPU).

    Returns:
        N ``(H_i, W_i)`` uint8 alphas on ``device``, back to back in one buffer (so that a
        uniform batch packs for the kernels without a copy), and N ``SourceBox``.
    """
    device = torch.device(device) if device is not None else _default_device(images)
    shapes = [tuple(int(d) for d in im.shape[:2]) for im in images]
    flat = torch.zeros(sum(h * w for h, w in shapes), dtype=torch.uint8, device=device)
    alphas, boxes, offset = [], [], 0
    for im, m, src, (h, w) in zip(images, masks, sources, shapes):
        alpha = flat[offset : offset + h * w].view(h, w)
        offset += h * w
        boxes.append(_alpha_into(alpha, _as_tensor(im, device), _as_tensor(m, device),
                                 palette[src], palette, cfg))
        alphas.append(alpha)
    return alphas, boxes
