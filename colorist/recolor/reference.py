"""The numpy/OpenCV reference recolouring: the oracle every backend is tested against.

It computes exactly what csrc/include/colorist/pixel_math.h computes, step by step with
array operations: OpenCV's exact 8-bit RGB -> HSV, the hue map, the hue-reliability blend
and the S/V box maps in float32, OpenCV's float HSV -> RGB, round half to even, then the
alpha blend ``(orig * (255 - a) + recoloured * a + 127) // 255`` in integers. The CIELAB
mode uses the CIE formulas in float64 (OpenCV's float Lab conversion is a quantised table
approximation, up to 0.6 off in a*, so it cannot serve as the oracle).
"""

from __future__ import annotations

import cv2
import numpy as np

from colorist.recolor.plan import MODE_COPY, MODE_LAB, PARAM_FIELDS

_F = {name: i for i, name in enumerate(PARAM_FIELDS)}
_F32 = np.float32

# sRGB (D65) <-> XYZ, the matrices of OpenCV and the header.
_RGB2XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
     [0.019334, 0.119193, 0.950227]]
)
_XYZ2RGB = np.array(
    [[3.240479, -1.537150, -0.498535], [-0.969256, 1.875991, 0.041556],
     [0.055648, -0.204043, 1.057311]]
)
_WHITE = np.array([0.950456, 1.0, 1.088754])
_EPS, _KAPPA = 0.008856, 903.3


def map_hue(h: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Piecewise-linear circle map of float32 hues (see ``map_hue`` in the header)."""
    src_lo, src_w, tgt_lo, tgt_w = (row[_F[k]] for k in ("src_lo", "src_w", "tgt_lo", "tgt_w"))
    if src_w <= 0:
        return h
    u = h - src_lo
    u = np.where(u < 0, u + _F32(180), u)
    u = np.where(u >= 180, u - _F32(180), u)
    inside = tgt_lo + u * row[_F["ratio_in"]]
    outside = tgt_lo + tgt_w + (u - src_w) * row[_F["ratio_out"]]
    y = np.where(u <= src_w, inside, outside)
    return np.where(y >= 180, y - _F32(180), y).astype(_F32)


def _affine(x: np.ndarray, mul: np.float32, add: np.float32, hi: float) -> np.ndarray:
    return np.clip(x * mul + add, 0, hi).astype(_F32)


def hue_reliability(s: np.ndarray, v: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``clamp((S * V / 255 - rel_lo) * rel_inv, 0, 1)`` in float32 (0: hue is noise)."""
    sv = (s * v) * _F32(1 / 255)
    return np.clip((sv - row[_F["rel_lo"]]) * row[_F["rel_inv"]], 0, 1).astype(_F32)


def toward_target_hue(h: np.ndarray, r: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``h + (1 - r) * d``: d the signed circular step from ``h`` to the target centre."""
    d = row[_F["tgt_hc"]] - h
    d = np.where(d >= 90, d - _F32(180), d)
    d = np.where(d < -90, d + _F32(180), d)
    y = h + (_F32(1) - r) * d
    y = np.where(y < 0, y + _F32(180), y)
    return np.where(y >= 180, y - _F32(180), y).astype(_F32)


def _recolor_hsv(hsv: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``(n, 3)`` uint8 HSV pixels -> ``(n, 3)`` uint8 RGB for an HSV-mode row."""
    hf = hsv.astype(_F32)
    r = hue_reliability(hf[:, 1], hf[:, 2], row)
    h = toward_target_hue(map_hue(hf[:, 0], row), r, row)
    s = _affine(hf[:, 1], row[_F["s_mul"]], row[_F["s_add"]], 255)
    s = (s + (_F32(1) - r) * (row[_F["s_tc"]] - s)).astype(_F32)
    v = _affine(hf[:, 2], row[_F["v_mul"]], row[_F["v_add"]], 255)
    scale = _F32(1 / 255)
    float_hsv = np.stack([h * _F32(2), s * scale, v * scale], axis=-1).reshape(-1, 1, 3)
    rgb = cv2.cvtColor(float_hsv, cv2.COLOR_HSV2RGB).reshape(-1, 3)
    return _unit_to_u8(rgb)


def hsv_to_rgb_u8(hsv: np.ndarray) -> np.ndarray:
    """``(n, 3)`` float OpenCV-unit HSV (H in [0, 180), S and V in [0, 255]) -> uint8 RGB."""
    hsv = np.asarray(hsv, dtype=_F32)
    unit = np.stack([hsv[:, 0] * _F32(2), hsv[:, 1] / _F32(255), hsv[:, 2] / _F32(255)], -1)
    return _unit_to_u8(cv2.cvtColor(unit.reshape(-1, 1, 3), cv2.COLOR_HSV2RGB).reshape(-1, 3))


def _unit_to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * _F32(255)), 0, 255).astype(np.uint8)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 sRGB -> ``(..., 3)`` float64 CIELAB (L in [0, 100], D65)."""
    lin = srgb_to_linear(np.asarray(rgb, dtype=np.float64) / 255.0)
    xyz = lin @ _RGB2XYZ.T / _WHITE
    f = np.where(xyz > _EPS, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    y = xyz[..., 1]
    L = np.where(y > _EPS, 116 * f[..., 1] - 16, _KAPPA * y)
    return np.stack([L, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """``(..., 3)`` CIELAB -> ``(..., 3)`` float64 sRGB in [0, 1] (clipped to the gamut)."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16) / 116
    y = np.where(L > _KAPPA * _EPS, fy**3, L / _KAPPA)
    f = np.stack([fy + a / 500, fy - b / 200], -1)
    xz = np.where(f**3 > _EPS, f**3, (f - 16 / 116) / 7.787)
    xyz = np.stack([xz[..., 0], y, xz[..., 1]], -1) * _WHITE
    return linear_to_srgb(np.clip(xyz @ _XYZ2RGB.T, 0, 1))


def _recolor_lab(rgb: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``(n, 3)`` uint8 RGB pixels -> ``(n, 3)`` uint8 RGB for a CIELAB-mode row."""
    lab = rgb_to_lab(rgb)
    r = row.astype(np.float64)
    L = np.clip(lab[:, 0] * r[_F["l_mul"]] + r[_F["l_add"]], 0, 100)
    mix = r[_F["ab_mix"]]
    a = lab[:, 1] + mix * (r[_F["a_tgt"]] - lab[:, 1])
    b = lab[:, 2] + mix * (r[_F["b_tgt"]] - lab[:, 2])
    return np.clip(np.rint(lab_to_rgb(np.stack([L, a, b], -1)) * 255), 0, 255).astype(np.uint8)


def recolor_pixels(rgb: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Recolour a list of pixels.

    Args:
        rgb: ``(n, 3)`` uint8 RGB.
        params: ``(K, NUM_PARAMS)`` float32 rows (colorist.recolor.plan).

    Returns:
        ``(K, n, 3)`` uint8 RGB.
    """
    hsv = cv2.cvtColor(rgb.reshape(-1, 1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3)
    out = np.empty((len(params), len(rgb), 3), dtype=np.uint8)
    for k, row in enumerate(params):
        mode = row[_F["mode"]]
        if mode == MODE_COPY:
            out[k] = rgb
        elif mode == MODE_LAB:
            out[k] = _recolor_lab(rgb, row)
        else:
            out[k] = _recolor_hsv(hsv, row)
    return out


def blend(orig: np.ndarray, recoloured: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``(orig * (255 - a) + recoloured * a + 127) // 255`` in integers (the one rounding
    rule of every backend); ``alpha`` broadcasts over the channel axis."""
    a = alpha.astype(np.int32)[..., None]
    mixed = orig.astype(np.int32) * (255 - a) + recoloured.astype(np.int32) * a + 127
    return (mixed // 255).astype(np.uint8)


def recolor_reference(image: np.ndarray, alpha: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Recolour the object of one image into K variants.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        alpha: ``(H, W)`` uint8, how much of each pixel is the object (the pre-pass's
            selective alpha; a binary mask passed as 0/255 recolours every masked pixel).
            Pixels with alpha 0 are copied.
        params: ``(K, NUM_PARAMS)`` float32 rows.

    Returns:
        ``(K, H, W, 3)`` uint8 RGB.
    """
    alpha = np.asarray(alpha)
    inside = alpha > 0
    out = np.broadcast_to(image, (len(params), *image.shape)).copy()
    if inside.any():
        px = np.ascontiguousarray(image[inside])
        rec = recolor_pixels(px, params)
        out[:, inside] = blend(px[None], rec, alpha[inside][None])
    return out
