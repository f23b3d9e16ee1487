"""Triton kernels for the recolouring contract: fused masked RGB -> HSV -> map -> RGB.

One program reads BLOCK pixels of one image once (RGB + mask) and writes all K colour
variants of them, so a batch moves ``4 + 3K`` bytes a pixel and nothing else: no
intermediate HSV or float image ever reaches memory (kornia/torchvision's unfused
conversion writes and rereads ~20 of them).

Batch layout (see colorist/recolor/gpu_batch.py): the images of a batch, of any sizes, sit
in one flat uint8 pixel buffer; ``meta`` is an ``(N, 4)`` int64 table per image:
``[first pixel, pixel count, first output byte, bytes between variants]``. The grid is
``(cdiv(max pixels, BLOCK), N)``; programs past the end of a smaller image mask everything
out. The per-pixel math mirrors csrc/include/colorist/pixel_math.h line for line (OpenCV's
integer RGB -> HSV, OpenCV's float HSV -> RGB, exact CIE Lab); the numpy reference
(colorist/recolor/reference.py) is the oracle both are tested against.

Runs on CUDA tensors, and on CPU tensors under ``TRITON_INTERPRET=1`` (tests).
"""

from __future__ import annotations

import triton
import triton.language as tl

# Hue-map slopes, S/V affines etc.: the 16-float parameter row of colorist/recolor/plan.py.
NUM_PARAMS = tl.constexpr(16)


@triton.jit
def _rgb_to_hsv_u8(r, g, b):
    """OpenCV's exact integer RGB -> HSV (cv::COLOR_RGB2HSV): int32 tensors in and out."""
    vmax = tl.maximum(tl.maximum(r, g), b)
    vmin = tl.minimum(tl.minimum(r, g), b)
    diff = vmax - vmin
    # OpenCV's division tables round((255 << 12) / v) and round((180 << 12) / (6 diff)),
    # computed by integer division (neither quotient is ever a tie).
    sdiv = tl.where(vmax > 0, (2 * (255 << 12) + vmax) // (2 * tl.maximum(vmax, 1)), 0)
    hdiv = tl.where(diff > 0, (2 * 122880 + diff) // (2 * tl.maximum(diff, 1)), 0)
    hh = tl.where(vmax == r, g - b, tl.where(vmax == g, b - r + 2 * diff, r - g + 4 * diff))
    hh = (hh * hdiv + 2048) >> 12
    h = tl.where(hh < 0, hh + 180, hh)
    s = (diff * sdiv + 2048) >> 12
    return h, s, vmax


@triton.jit
def _hsv_to_rgb(h180, s, v):
    """OpenCV's float HSV -> RGB (HSV2RGB_native); H in [0, 180), S and V in [0, 1]."""
    h = (h180 * 2.0) * 0.016666668  # float32(6 / 360), as the header's constant
    sector = h.to(tl.int32)  # h >= 0: truncation is floor
    h = h - sector.to(tl.float32)
    bad = (sector < 0) | (sector >= 6)
    sector = tl.where(bad, 0, sector)
    h = tl.where(bad, 0.0, h)
    t1 = v * (1.0 - s)
    t2 = v * (1.0 - s * h)
    t3 = v * (1.0 - s * (1.0 - h))
    r = tl.where((sector == 0) | (sector == 5), v,
                 tl.where(sector == 1, t2, tl.where(sector == 4, t3, t1)))
    g = tl.where((sector == 1) | (sector == 2), v,
                 tl.where(sector == 0, t3, tl.where(sector == 3, t2, t1)))
    b = tl.where((sector == 3) | (sector == 4), v,
                 tl.where(sector == 2, t3, tl.where(sector == 5, t2, t1)))
    return r, g, b


@triton.jit
def _pow(x, y):
    # x > 0 wherever the callers use it (the branches below select the positive side).
    return tl.exp2(y * tl.log2(tl.maximum(x, 1e-30)))


@triton.jit
def _srgb_to_linear(c):
    return tl.where(c <= 0.04045, c * (1.0 / 12.92), _pow((c + 0.055) * (1.0 / 1.055), 2.4))


@triton.jit
def _linear_to_srgb(c):
    return tl.where(c <= 0.0031308, c * 12.92, 1.055 * _pow(c, 1.0 / 2.4) - 0.055)


@triton.jit
def _lab_f(t):
    return tl.where(t > 0.008856, _pow(t, 1.0 / 3.0), 7.787 * t + 16.0 / 116.0)


@triton.jit
def _lab_finv(f):
    f3 = f * f * f
    return tl.where(f3 > 0.008856, f3, (f - 16.0 / 116.0) * (1.0 / 7.787))


@triton.jit
def _rgb_to_lab(r, g, b):
    """Gamma-encoded sRGB in [0, 1] -> CIELAB (D65), the exact CIE formulas."""
    r = _srgb_to_linear(r)
    g = _srgb_to_linear(g)
    b = _srgb_to_linear(b)
    x = (0.412453 * r + 0.357580 * g + 0.180423 * b) * (1.0 / 0.950456)
    y = 0.212671 * r + 0.715160 * g + 0.072169 * b
    z = (0.019334 * r + 0.119193 * g + 0.950227 * b) * (1.0 / 1.088754)
    fy = _lab_f(y)
    L = tl.where(y > 0.008856, 116.0 * fy - 16.0, 903.3 * y)
    return L, 500.0 * (_lab_f(x) - fy), 200.0 * (fy - _lab_f(z))


@triton.jit
def _lab_to_rgb(L, A, B):
    """CIELAB -> sRGB in [0, 1], clipped to the gamut per channel."""
    fy = (L + 16.0) * (1.0 / 116.0)
    y = tl.where(L > 7.9996248, fy * fy * fy, L * (1.0 / 903.3))
    x = _lab_finv(fy + A * (1.0 / 500.0)) * 0.950456
    z = _lab_finv(fy - B * (1.0 / 200.0)) * 1.088754
    lr = 3.240479 * x - 1.537150 * y - 0.498535 * z
    lg = -0.969256 * x + 1.875991 * y + 0.041556 * z
    lb = 0.055648 * x - 0.204043 * y + 1.057311 * z
    r = _linear_to_srgb(tl.minimum(tl.maximum(lr, 0.0), 1.0))
    g = _linear_to_srgb(tl.minimum(tl.maximum(lg, 0.0), 1.0))
    b = _linear_to_srgb(tl.minimum(tl.maximum(lb, 0.0), 1.0))
    return r, g, b


@triton.jit
def _unit_to_u8(x):
    """[0, 1] -> uint8, round half to even (the 1.5 * 2^23 trick, exact below 2^22)."""
    y = (x * 255.0 + 12582912.0) - 12582912.0
    return tl.minimum(tl.maximum(y, 0.0), 255.0).to(tl.uint8)


@triton.jit
def _map_hue(h, row):
    """Piecewise-linear circle map (``map_hue`` in the header); ``row`` points at a row."""
    src_lo = tl.load(row + 1)
    src_w = tl.load(row + 2)
    tgt_lo = tl.load(row + 3)
    tgt_w = tl.load(row + 4)
    u = h - src_lo
    u = tl.where(u < 0.0, u + 180.0, u)
    u = tl.where(u >= 180.0, u - 180.0, u)
    inside = tgt_lo + u * tl.load(row + 14)
    outside = tgt_lo + tgt_w + (u - src_w) * tl.load(row + 15)
    y = tl.where(u <= src_w, inside, outside)
    y = tl.where(y >= 180.0, y - 180.0, y)
    return tl.where(src_w <= 0.0, h, y)


@triton.jit
def _recolor_variant(h, s, v, L, A, B, row, HAS_LAB: tl.constexpr):
    """One parameter row applied to HSV (and Lab) pixels -> uint8 R, G, B (before masking)."""
    h2 = _map_hue(h, row)
    s2 = tl.minimum(tl.maximum(s * tl.load(row + 5) + tl.load(row + 6), 0.0), 255.0)
    v2 = tl.minimum(tl.maximum(v * tl.load(row + 7) + tl.load(row + 8), 0.0), 255.0)
    r, g, b = _hsv_to_rgb(h2, s2 * (1.0 / 255.0), v2 * (1.0 / 255.0))
    if HAS_LAB:
        is_lab = tl.load(row) == 1.0
        L2 = tl.minimum(tl.maximum(L * tl.load(row + 9) + tl.load(row + 10), 0.0), 100.0)
        mix = tl.load(row + 13)
        lr, lg, lb = _lab_to_rgb(L2, A + mix * (tl.load(row + 11) - A),
                                 B + mix * (tl.load(row + 12) - B))
        r = tl.where(is_lab, lr, r)
        g = tl.where(is_lab, lg, g)
        b = tl.where(is_lab, lb, b)
    return _unit_to_u8(r), _unit_to_u8(g), _unit_to_u8(b)


@triton.jit
def recolor_kernel(rgb_ptr, mask_ptr, out_ptr, params_ptr, meta_ptr, K,
                   BLOCK: tl.constexpr, HAS_LAB: tl.constexpr):
    """Recolour BLOCK pixels of image ``program_id(1)`` into its K variants.

    Args:
        rgb_ptr: packed ``(P * 3,)`` uint8 RGB of the batch.
        mask_ptr: packed ``(P,)`` uint8; > 0 marks the object.
        out_ptr: uint8 output; variant k of image i starts at byte
            ``meta[i, 2] + k * meta[i, 3]`` and is ``(count, 3)`` RGB.
        params_ptr: ``(N, K, NUM_PARAMS)`` float32.
        meta_ptr: ``(N, 4)`` int64 (first pixel, count, first output byte, variant stride).
        K: variants per image.
        HAS_LAB: some row of the batch is a CIELAB row (else the Lab code is compiled out).
    """
    img = tl.program_id(1)
    start = tl.load(meta_ptr + img * 4)
    count = tl.load(meta_ptr + img * 4 + 1)
    out_start = tl.load(meta_ptr + img * 4 + 2)
    stride = tl.load(meta_ptr + img * 4 + 3)
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = p < count
    src = rgb_ptr + (start + p) * 3
    r8 = tl.load(src, mask=valid, other=0)
    g8 = tl.load(src + 1, mask=valid, other=0)
    b8 = tl.load(src + 2, mask=valid, other=0)
    inside = tl.load(mask_ptr + start + p, mask=valid, other=0) != 0
    hi, si, vi = _rgb_to_hsv_u8(r8.to(tl.int32), g8.to(tl.int32), b8.to(tl.int32))
    h = hi.to(tl.float32)
    s = si.to(tl.float32)
    v = vi.to(tl.float32)
    L = h
    A = h
    B = h
    if HAS_LAB:
        L, A, B = _rgb_to_lab(r8.to(tl.float32) * (1.0 / 255.0),
                              g8.to(tl.float32) * (1.0 / 255.0),
                              b8.to(tl.float32) * (1.0 / 255.0))
    # A while loop, not `for k in range(K)`: Triton 3.6's interpreter cannot bound a for
    # loop by a runtime scalar under numpy 2 (int() of a 1-element array); compiled, both
    # are the same scf loop.
    k = 0
    while k < K:
        row = params_ptr + (img * K + k) * NUM_PARAMS
        r, g, b = _recolor_variant(h, s, v, L, A, B, row, HAS_LAB)
        is_copy = tl.load(row) == 2.0  # a copy row (target == source) keeps the pixels
        dst = out_ptr + out_start + k * stride + p * 3
        tl.store(dst, tl.where(is_copy, r8, tl.where(inside, r, r8)), mask=valid)
        tl.store(dst + 1, tl.where(is_copy, g8, tl.where(inside, g, g8)), mask=valid)
        tl.store(dst + 2, tl.where(is_copy, b8, tl.where(inside, b, b8)), mask=valid)
        k += 1


@triton.jit
def hue_histogram_kernel(rgb_ptr, mask_ptr, meta_ptr, hist_ptr, s_min, v_min,
                         BLOCK: tl.constexpr):
    """Adds the hues of BLOCK masked pixels with S >= s_min, V >= v_min to ``hist[img]``.

    ``hist_ptr``: ``(N, 180)`` int32, zeroed by the caller. One block histogram (256 bins,
    bin 255 collects the pixels that do not count) and 180 atomic adds per program, not one
    atomic per pixel: an object is mostly one hue, and per-pixel atomics on one bin
    serialise.
    """
    img = tl.program_id(1)
    start = tl.load(meta_ptr + img * 4)
    count = tl.load(meta_ptr + img * 4 + 1)
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = p < count
    src = rgb_ptr + (start + p) * 3
    r = tl.load(src, mask=valid, other=0).to(tl.int32)
    g = tl.load(src + 1, mask=valid, other=0).to(tl.int32)
    b = tl.load(src + 2, mask=valid, other=0).to(tl.int32)
    inside = tl.load(mask_ptr + start + p, mask=valid, other=0) != 0
    h, s, v = _rgb_to_hsv_u8(r, g, b)
    counted = valid & inside & (s >= s_min) & (v >= v_min)
    bins = tl.histogram(tl.where(counted, h, 255), 256)
    idx = tl.arange(0, 256)
    tl.atomic_add(hist_ptr + img * 180 + idx, bins, mask=idx < 180)


# Block sizes to try on a GPU (the interpreter uses one fixed size: see launch code).
AUTOTUNE_CONFIGS = [
    triton.Config({"BLOCK": 256}, num_warps=4),
    triton.Config({"BLOCK": 512}, num_warps=4),
    triton.Config({"BLOCK": 1024}, num_warps=4),
    triton.Config({"BLOCK": 1024}, num_warps=8),
    triton.Config({"BLOCK": 2048}, num_warps=8),
]

recolor_kernel_autotuned = triton.autotune(configs=AUTOTUNE_CONFIGS, key=["K", "HAS_LAB"])(
    recolor_kernel
)
