"""Triton kernels for the recolouring contract: fused masked RGB -> HSV -> map -> RGB.

One program reads BLOCK pixels of one image once (RGB + the pre-pass's uint8 alpha) and
writes all K colour variants of them, each blended with the original by its alpha, so a
batch moves ``4 + 3K`` bytes a pixel and nothing else: no intermediate HSV or float image
ever reaches memory (kornia/torchvision's unfused conversion writes and rereads ~20 of
them).

Batch layout (see colorist/recolor/gpu_batch.py): the images of a batch, of any sizes, sit
in one flat uint8 pixel buffer; ``meta`` is an ``(N, 4)`` int64 table per image:
``[first pixel, pixel count, first output byte, bytes between variants]``. The grid is
``(cdiv(max pixels, BLOCK), N)`` (N at most 65,535: the launcher chunks bigger batches);
programs past the end of a smaller image mask everything out. The kernel moves int32
words (3 of RGB and 1 of alpha a group of 4 pixels), and a program whose pixels all have
alpha 0 only copies. The per-pixel math mirrors csrc/include/colorist/pixel_math.h line
for line (OpenCV's integer RGB -> HSV, OpenCV's float HSV -> RGB, exact CIE Lab); the
numpy reference (colorist/recolor/reference.py) is the oracle both are tested against.

Runs on CUDA tensors, and on CPU tensors under ``TRITON_INTERPRET=1`` (tests).
"""

from __future__ import annotations

import triton
import triton.language as tl

from colorist.recolor.plan import MODE_COPY as _MODE_COPY
from colorist.recolor.plan import MODE_LAB as _MODE_LAB
from colorist.recolor.plan import NUM_PARAMS as _NUM_PARAMS
from colorist.recolor.plan import PARAM_INDEX as _P

# The parameter row layout comes from colorist/recolor/plan.py (PARAM_FIELDS), the one
# definition the C header is generated from too.
NUM_PARAMS = tl.constexpr(_NUM_PARAMS)
MODE_LAB = tl.constexpr(float(_MODE_LAB))
MODE_COPY = tl.constexpr(float(_MODE_COPY))
P_SRC_LO, P_SRC_W = tl.constexpr(_P["src_lo"]), tl.constexpr(_P["src_w"])
P_TGT_LO, P_TGT_W = tl.constexpr(_P["tgt_lo"]), tl.constexpr(_P["tgt_w"])
P_RATIO_IN, P_RATIO_OUT = tl.constexpr(_P["ratio_in"]), tl.constexpr(_P["ratio_out"])
P_REL_LO, P_REL_INV = tl.constexpr(_P["rel_lo"]), tl.constexpr(_P["rel_inv"])
P_TGT_HC, P_S_TC = tl.constexpr(_P["tgt_hc"]), tl.constexpr(_P["s_tc"])
P_S_MUL, P_S_ADD = tl.constexpr(_P["s_mul"]), tl.constexpr(_P["s_add"])
P_V_MUL, P_V_ADD = tl.constexpr(_P["v_mul"]), tl.constexpr(_P["v_add"])
P_L_MUL, P_L_ADD = tl.constexpr(_P["l_mul"]), tl.constexpr(_P["l_add"])
P_A_TGT, P_B_TGT = tl.constexpr(_P["a_tgt"]), tl.constexpr(_P["b_tgt"])
P_AB_MIX = tl.constexpr(_P["ab_mix"])


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
    """[0, 1] -> [0, 255] int32, round half to even, without a conversion instruction: the
    clamped x * 255 plus 1.5 * 2^23 has an ulp of 1, so its low mantissa bits are the
    rounded value (the clamp also keeps the multiply out of an FMA with the addition)."""
    y = tl.minimum(tl.maximum(x * 255.0, 0.0), 255.0) + 12582912.0
    return y.to(tl.int32, bitcast=True) - 0x4B400000


@triton.jit
def _map_hue(h, row):
    """Piecewise-linear circle map (``map_hue`` in the header); ``row`` points at a row."""
    src_lo = tl.load(row + P_SRC_LO)
    src_w = tl.load(row + P_SRC_W)
    tgt_lo = tl.load(row + P_TGT_LO)
    tgt_w = tl.load(row + P_TGT_W)
    u = h - src_lo
    u = tl.where(u < 0.0, u + 180.0, u)
    u = tl.where(u >= 180.0, u - 180.0, u)
    inside = tgt_lo + u * tl.load(row + P_RATIO_IN)
    outside = tgt_lo + tgt_w + (u - src_w) * tl.load(row + P_RATIO_OUT)
    y = tl.where(u <= src_w, inside, outside)
    y = tl.where(y >= 180.0, y - 180.0, y)
    return tl.where(src_w <= 0.0, h, y)


@triton.jit
def _toward_target_hue(h, s, v, row):
    """Hue reliability r from S * V, and h moved by (1 - r) of the circular step to the
    target hue centre (``hue_reliability`` / ``toward_target_hue`` in the header)."""
    sv = (s * v) * (1.0 / 255.0)
    rel = tl.minimum(tl.maximum((sv - tl.load(row + P_REL_LO)) * tl.load(row + P_REL_INV),
                                0.0), 1.0)
    d = tl.load(row + P_TGT_HC) - h
    d = tl.where(d >= 90.0, d - 180.0, d)
    d = tl.where(d < -90.0, d + 180.0, d)
    y = h + (1.0 - rel) * d
    y = tl.where(y < 0.0, y + 180.0, y)
    return tl.where(y >= 180.0, y - 180.0, y), rel


@triton.jit
def _recolor_variant(h, s, v, L, A, B, row, HAS_LAB: tl.constexpr):
    """One parameter row applied to HSV (and Lab) pixels -> uint8 R, G, B (before blending)."""
    h2, rel = _toward_target_hue(_map_hue(h, row), s, v, row)
    s2 = tl.minimum(tl.maximum(s * tl.load(row + P_S_MUL) + tl.load(row + P_S_ADD), 0.0), 255.0)
    s2 = s2 + (1.0 - rel) * (tl.load(row + P_S_TC) - s2)
    v2 = tl.minimum(tl.maximum(v * tl.load(row + P_V_MUL) + tl.load(row + P_V_ADD), 0.0), 255.0)
    r, g, b = _hsv_to_rgb(h2, s2 * (1.0 / 255.0), v2 * (1.0 / 255.0))
    if HAS_LAB:
        is_lab = tl.load(row) == MODE_LAB
        L2 = tl.minimum(tl.maximum(L * tl.load(row + P_L_MUL) + tl.load(row + P_L_ADD), 0.0),
                        100.0)
        mix = tl.load(row + P_AB_MIX)
        lr, lg, lb = _lab_to_rgb(L2, A + mix * (tl.load(row + P_A_TGT) - A),
                                 B + mix * (tl.load(row + P_B_TGT) - B))
        r = tl.where(is_lab, lr, r)
        g = tl.where(is_lab, lg, g)
        b = tl.where(is_lab, lb, b)
    return _unit_to_u8(r), _unit_to_u8(g), _unit_to_u8(b)


@triton.jit
def _blend(orig, rec, alpha):
    """(orig * (255 - a) + rec * a + 127) // 255 in int32 (all terms >= 0): the one rounding
    rule of every backend. m // 255 == (m * 0x8081) >> 23 for every m < 2^16."""
    return ((orig * (255 - alpha) + rec * alpha + 127) * 0x8081) >> 23


@triton.jit
def _byte(words, i: tl.constexpr):
    """Byte ``i`` (0..11) of the 12 bytes that 3 little-endian int32 words hold."""
    return (words[i // 4] >> (8 * (i % 4))) & 0xFF


@triton.jit
def _interleave4(x0, x1, x2, x3):
    """(G,) tensors of pixels 4g, 4g + 1, 4g + 2, 4g + 3 -> the (4G,) tensor in pixel order."""
    return tl.reshape(tl.join(tl.join(x0, x2), tl.join(x1, x3)), (4 * x0.shape[0],))


@triton.jit
def _deinterleave4(x):
    """The inverse of _interleave4."""
    even, odd = tl.split(tl.reshape(x, (x.shape[0] // 4, 2, 2)))
    x0, x2 = tl.split(even)
    x1, x3 = tl.split(odd)
    return x0, x1, x2, x3


@triton.jit
def _unpack3(w0, w1, w2):
    """3 little-endian words per group of 4 pixels -> R, G, B int32 bytes in pixel order."""
    words = (w0, w1, w2)
    r = _interleave4(_byte(words, 0), _byte(words, 3), _byte(words, 6), _byte(words, 9))
    g = _interleave4(_byte(words, 1), _byte(words, 4), _byte(words, 7), _byte(words, 10))
    b = _interleave4(_byte(words, 2), _byte(words, 5), _byte(words, 8), _byte(words, 11))
    return r, g, b


@triton.jit
def _pack3(r, g, b):
    """R, G, B int32 bytes in pixel order -> the 3 little-endian words of each group."""
    r0, r1, r2, r3 = _deinterleave4(r)
    g0, g1, g2, g3 = _deinterleave4(g)
    b0, b1, b2, b3 = _deinterleave4(b)
    w0 = r0 | (g0 << 8) | (b0 << 16) | (r1 << 24)
    w1 = g1 | (b1 << 8) | (r2 << 16) | (g2 << 24)
    w2 = b2 | (r3 << 8) | (g3 << 16) | (b3 << 24)
    return w0, w1, w2


@triton.jit(do_not_specialize=["SIZE_CLASS"])  # an autotune key only: no recompile per value
def recolor_kernel(rgb_ptr, alpha_ptr, out_ptr, params_ptr, meta_ptr, K, SIZE_CLASS,
                   BLOCK: tl.constexpr, HAS_LAB: tl.constexpr):
    """Recolour BLOCK pixels of image ``program_id(1)`` into its K variants.

    Pixels are read and written as int32 words: a group of 4 pixels is 3 words of RGB and
    one of alpha (every image starts at a multiple of 16 pixels, so words never straddle
    two images), 4 loads per 4 pixels instead of 16 byte loads, and 3 word stores a variant
    instead of 12 byte stores. Per-element offsets are int32 (an image holds fewer than
    2^31 pixels); the image's base offsets are int64 scalars.

    Args:
        rgb_ptr: packed ``(P * 3 / 4,)`` int32 view of the batch's uint8 RGB.
        alpha_ptr: packed ``(P / 4,)`` int32 view of the pre-pass's uint8 alpha; 0 copies
            the pixel.
        out_ptr: int32 view of the uint8 output; variant k of image i starts at byte
            ``meta[i, 2] + k * meta[i, 3]`` and is ``(count, 3)`` RGB.
        params_ptr: ``(N, K, NUM_PARAMS)`` float32.
        meta_ptr: ``(N, 4)`` int64 (first pixel, count, first output byte, variant stride).
        K: variants per image.
        SIZE_CLASS: bit length of the batch's largest pixel count: unused by the kernel, a
            key of the autotuner (a tiny first batch does not choose the block size of a
            large one).
        HAS_LAB: some row of the batch is a CIELAB row (else the Lab code is compiled out).
    """
    img = tl.program_id(1)
    start = tl.load(meta_ptr + img * 4)
    count = tl.load(meta_ptr + img * 4 + 1).to(tl.int32)
    out_start = tl.load(meta_ptr + img * 4 + 2)
    stride = tl.load(meta_ptr + img * 4 + 3)
    grp = tl.program_id(0) * (BLOCK // 4) + tl.arange(0, BLOCK // 4)  # groups of 4 pixels
    valid = grp * 4 < count  # the rest of a group is the image's padding
    src = rgb_ptr + (start // 4) * 3 + grp * 3
    w0 = tl.load(src, mask=valid, other=0)
    w1 = tl.load(src + 1, mask=valid, other=0)
    w2 = tl.load(src + 2, mask=valid, other=0)
    alphas = tl.load(alpha_ptr + start // 4 + grp, mask=valid, other=0)
    dst = out_ptr + out_start // 4 + grp * 3
    step = stride // 4
    # A while loop, not `for k in range(K)`: Triton 3.6's interpreter cannot bound a for
    # loop by a runtime scalar under numpy 2 (int() of a 1-element array); compiled, both
    # are the same scf loop.
    if tl.max(tl.where(alphas != 0, 1, 0), axis=0) == 0:
        k = 0
        while k < K:  # nothing to recolour in this block: K copies
            tl.store(dst, w0, mask=valid)
            tl.store(dst + 1, w1, mask=valid)
            tl.store(dst + 2, w2, mask=valid)
            dst += step
            k += 1
    else:
        alpha = _interleave4(alphas & 0xFF, (alphas >> 8) & 0xFF, (alphas >> 16) & 0xFF,
                             (alphas >> 24) & 0xFF)
        r8, g8, b8 = _unpack3(w0, w1, w2)
        hi, si, vi = _rgb_to_hsv_u8(r8, g8, b8)
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
        k = 0
        while k < K:
            row = params_ptr + (img * K + k) * NUM_PARAMS
            r, g, b = _recolor_variant(h, s, v, L, A, B, row, HAS_LAB)
            # a copy row (target == source) keeps the pixels: alpha 0 blends to the original
            a = tl.where(tl.load(row) == MODE_COPY, 0, alpha)
            v0, v1, v2 = _pack3(_blend(r8, r, a), _blend(g8, g, a), _blend(b8, b, a))
            tl.store(dst, v0, mask=valid)
            tl.store(dst + 1, v1, mask=valid)
            tl.store(dst + 2, v2, mask=valid)
            dst += step
            k += 1


def size_class(max_count: int) -> int:
    """The autotuner's size key: the bit length of the largest image's pixel count."""
    return int(max_count).bit_length()


# Block sizes to try on a GPU (the interpreter uses one fixed size: see launch code). At
# least one group of 4 pixels a thread (BLOCK >= 128 * num_warps): fewer would replicate
# the (BLOCK / 4,) word tensors across threads and shuffle them through shared memory.
AUTOTUNE_CONFIGS = [
    triton.Config({"BLOCK": 256}, num_warps=2),
    triton.Config({"BLOCK": 512}, num_warps=4),
    triton.Config({"BLOCK": 1024}, num_warps=4),
    triton.Config({"BLOCK": 1024}, num_warps=8),
    triton.Config({"BLOCK": 2048}, num_warps=8),
]

recolor_kernel_autotuned = triton.autotune(
    configs=AUTOTUNE_CONFIGS, key=["K", "HAS_LAB", "SIZE_CLASS"]
)(recolor_kernel)
