"""The per-object pre-pass (once for all K variants): selective soft alpha + source box.

``object_alpha`` turns a binary object mask into the uint8 alpha the kernels read:

1. membership of each masked pixel in the *source* colour, soft. Chromatic sources: the
   pixel's hue against the object's fitted hue arc (``fit_source_arc``: the S x V weighted
   hue histogram, arcs overlapping the caption colour's arc only), with a few hue units of
   feather. Pixels whose hue is unreliable (low S x V: shadows, highlights, JPEG noise in
   dark areas) take the membership of their reliable neighbours (normalised box
   convolution), so a shadow on a red body counts as body and a tyre does not. Achromatic
   sources: soft S and V ranges (white: low S, high V; gray: low S, mid V; black: low V).
2. an edge-aware refinement: a guided filter (He et al., box filters, O(1) a pixel) with
   the image's lightness as guide: speckle goes, edges of parts (windows, lettering) stay.
3. alpha = membership x mask x edge feather (``FEATHER_PX``: the outermost mask pixels
   fade, so there is no hard rim); 0 outside the mask, where outputs are bit-identical.

Parts that are not the named colour (windows, tyres, lights, plates, lettering, collars)
keep alpha ~0 and stay as they are. The source box (``SourceBox``: fitted arc, S and V
ranges, mean lightness) is measured on the same pixels, weighted by alpha.

Numpy/OpenCV here; ``prepass_torch`` has the same steps on torch tensors (GPU backends).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from colorist.palette import HUE_PERIOD, Color, HueArc, Palette, _arc_distance
from colorist.recolor.plan import RELIABLE_SV, SourceBox, default_box


@dataclass(frozen=True)
class PrepassConfig:
    """Knobs of the pre-pass (0..255 units for S and V, OpenCV units for hue)."""

    hue_feather: float = 6.0  # hue units over which membership fades outside the arc
    fill_radius: int = 7  # neighbourhood that lends membership to unreliable pixels
    shadow_v: tuple[float, float] = (110.0, 60.0)  # V ramp: unreliable pixels this dark,
    shadow_rel: float = 0.7  # and darker than the body (median V down to this share of it)
    # follow their neighbours (shadows); brighter colourless ones are other parts
    close_px: int = 5  # closing that takes back highlight specks smaller than this
    part_s: tuple[float, float] = (0.3, 0.55)  # S ramp, as shares of the body's median S:
    # less saturated pixels of the body's hue are other parts (lettering, chrome)
    guide_radius: int = 4  # guided filter window radius
    guide_eps: float = 1e-2  # guided filter regulariser (guide in [0, 1])
    alpha_ramp: tuple[float, float] = (0.15, 0.65)  # filtered membership -> alpha, linear
    feather_px: float = 2.0  # alpha ramps from the mask edge over this many pixels
    min_arc_weight: float = 40.0  # S x V mass (pixel units) needed to fit an arc
    stat_samples: int = 4096  # pixels sampled for the box statistics (5-95% percentiles)
    selective: bool = True  # False: alpha = feathered mask (every masked pixel recoloured)


DEFAULT_PREPASS = PrepassConfig()
# RGB chroma (max - min, 0..255) ramps of achromatic sources: plain up to ~20, another
# (coloured) part from ~55.
ACHROMATIC_CHROMA, COLOURED_CHROMA = (40.0, 20.0), (30.0, 55.0)
TEXTURE_SIGMA = 2.0  # px: V is judged on this scale, not per pixel


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at ``lo``, 1 at ``hi``, linear between (``lo > hi`` gives a falling ramp)."""
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def fit_source_arc(weights: np.ndarray, color: Color, min_weight: float = 40.0) -> HueArc | None:
    """The arc of ``color``'s width holding the most S x V weight, among the arcs that
    overlap the caption colour's arc (a red bus's blue windows cannot win).

    Args:
        weights: ``(180,)`` S x V weighted hue histogram of the object's pixels.
        color: the caption's colour (gives the width and the arcs allowed).
        min_weight: below this total weight: None (the palette's arc is used).
    """
    if not color.chromatic or weights.sum() < min_weight:
        return None
    w = max(1, int(round(color.hue.width)))
    ext = np.concatenate([[0.0], np.cumsum(np.concatenate([weights, weights[:w]]))])
    sums = ext[w : w + 180] - ext[:180]  # sums[lo] = weight with hue in [lo, lo + w)
    lo = np.arange(180)
    offset = np.abs((lo - color.hue.lo + 90) % 180 - 90)  # arc start vs the caption's
    sums = np.where(offset < w, sums, -1.0)  # arcs that overlap the caption arc only
    best = np.flatnonzero(sums == sums.max())
    start = int(best[np.argmin(offset[best])])
    return HueArc(float(start), float(start + w) % HUE_PERIOD)


def _u8_levels() -> np.ndarray:
    return np.arange(256, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _sv_tables() -> tuple[np.ndarray, np.ndarray]:
    """S x V / 255 and its reliability ramp for every (S, V) byte pair, indexed S * 256 + V:
    the same float32 operations as on the pixels, looked up instead of recomputed."""
    s, v = np.meshgrid(_u8_levels(), _u8_levels(), indexing="ij")
    sv = (s * v / 255.0).ravel()
    return sv, _ramp(sv, *RELIABLE_SV)


def _arc_membership_table(arc: HueArc, feather: float) -> np.ndarray:
    """Membership in ``arc`` of each hue byte (the same float ops as per pixel)."""
    dist = _arc_distance(np.arange(256, dtype=np.uint8), arc).astype(np.float32)
    return np.clip(1.0 - dist / feather, 0.0, 1.0)


def _membership_chromatic(hsv: np.ndarray, inside: np.ndarray, color: Color,
                          cfg: PrepassConfig) -> tuple[np.ndarray, np.ndarray, HueArc | None]:
    """(membership, veto, fitted arc) of a chromatic source colour; veto marks the pixels
    that surely belong to another part (the edge-aware filter must not leak into them).

    Per-pixel functions of one byte (or of the S, V pair) are tables indexed by the bytes:
    the values are those of computing them per pixel, at a fraction of the cost."""
    hb, sb, vb = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    sv_table, rel_table = _sv_tables()
    sv_index = sb.astype(np.uint16) * 256 + vb
    sv, rel = sv_table[sv_index], rel_table[sv_index] * inside
    on = inside > 0
    hist = np.bincount(hb[on], weights=(sv * rel)[on] / 255.0, minlength=180)
    arc = fit_source_arc(hist, color, cfg.min_arc_weight)
    arc_m = _arc_membership_table(arc or color.hue, cfg.hue_feather)[hb]
    # Saturation against the body's own: a colourless part of a coloured object (white
    # lettering on a red sign, chrome, glare on glass) has the body's hue, weakly.
    core = (arc_m * rel) > 0.5
    s_body, v_body = (float(np.median(x[core])) if core.sum() >= 16 else 128.0
                      for x in (sb, vb))
    levels = _u8_levels()
    s_ok = _ramp(levels, cfg.part_s[0] * s_body, cfg.part_s[1] * s_body)[sb]
    hue_m = arc_m * s_ok
    k = 2 * cfg.fill_radius + 1
    num = cv2.boxFilter(hue_m * rel, -1, (k, k))
    den = cv2.boxFilter(rel, -1, (k, k))
    fill = np.where(den > 0.02, num / np.maximum(den, 1e-6), 0.0)
    # Only dark unreliable pixels (shadows) follow their neighbours; bright ones with no
    # colour are other parts (lettering, chrome, sky in windows), small highlight specks
    # come back through the closing below.
    dark = np.minimum(_ramp(levels, *cfg.shadow_v),
                      _ramp(levels, v_body, cfg.shadow_rel * v_body))[vb]
    # A body's shadow keeps its saturation; a tyre or a black trim is neutral and dark.
    member = rel * hue_m + (1.0 - rel) * dark * fill * s_ok
    close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cfg.close_px, cfg.close_px))
    # another part: a clear hue off the arc (a tongue, a backpack), or colourless and not
    # in shadow (lettering, chrome, specular glare, which stays white on any paint)
    veto = np.maximum(rel * (1.0 - arc_m), (1.0 - s_ok) * (1.0 - dark))
    return cv2.morphologyEx(member, cv2.MORPH_CLOSE, close), veto, arc


def _membership_achromatic(hsv: np.ndarray, inside: np.ndarray, color: Color,
                           palette: Palette) -> tuple[np.ndarray, np.ndarray]:
    """(membership, veto) of white, gray or black.

    Colourfulness is judged by RGB chroma (S x V / 255, i.e. max - min), not S: in shade a
    white sheep's wool picks up the grass's tint, and S, a ratio, blows that up at low V.
    White and gray are judged against the object's own light: shading makes a white cat's
    belly gray, not another part, while a white car's windows and tyres are far darker.
    """
    s, v = hsv[..., 1].astype(np.float32), hsv[..., 2].astype(np.float32)
    chroma = s * v / 255.0
    # lightness texture (wool, fur) must not turn the ramps below into per-pixel speckle
    v = cv2.GaussianBlur(v, (0, 0), TEXTURE_SIGMA)
    t = palette.thresholds
    plain = _ramp(chroma, *ACHROMATIC_CHROMA)
    coloured = _ramp(chroma, *COLOURED_CHROMA)
    if color.name == "black":
        return _ramp(v, t.black_v_max + 35, t.black_v_max), coloured
    lit = (plain * inside) > 0.5
    v_top = float(np.percentile(v[lit], 90)) if lit.sum() >= 16 else 255.0
    if color.name == "white":
        return plain * _ramp(v, 0.42 * v_top, 0.6 * v_top), coloured
    return plain * _ramp(v, t.black_v_max - 10, t.black_v_max + 20), coloured


def guided_filter(guide: np.ndarray, p: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter: ``p`` smoothed while following the edges of ``guide``.

    Args:
        guide: ``(H, W)`` float32 in [0, 1].
        p: ``(H, W)`` float32, the map to refine.
    """
    k = (2 * radius + 1, 2 * radius + 1)
    box = lambda x: cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean_i, mean_p = box(guide), box(p)
    var_i = box(guide * guide) - mean_i * mean_i
    a = (box(guide * p) - mean_i * mean_p) / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def _crop(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    x, y, bw, bh = cv2.boundingRect(mask.view(np.uint8))  # the box of the nonzero pixels
    h, w = mask.shape
    return (slice(max(y - margin, 0), min(y + bh + margin, h)),
            slice(max(x - margin, 0), min(x + bw + margin, w)))


def edge_feather(inside: np.ndarray, feather_px: float) -> np.ndarray:
    """1 deep inside the mask, falling to ``1 / feather_px`` on its outermost pixels."""
    dist = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    return np.clip(dist / feather_px, 0.0, 1.0).astype(np.float32)


def object_alpha(
    image: np.ndarray,
    mask: np.ndarray,
    color: Color,
    palette: Palette,
    cfg: PrepassConfig = DEFAULT_PREPASS,
) -> tuple[np.ndarray, SourceBox]:
    """Alpha map and source box of one object.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)``; > 0 marks the object.
        color: the colour the caption names for the object.

    Returns:
        ``(H, W)`` uint8 alpha (0 outside the mask) and the object's ``SourceBox``.
    """
    inside_full = np.asarray(mask) > 0
    alpha = np.zeros(inside_full.shape, dtype=np.uint8)
    if not inside_full.any():
        return alpha, default_box(color)
    rows, cols = _crop(inside_full, cfg.guide_radius + cfg.fill_radius + 2)
    rgb = np.ascontiguousarray(image[rows, cols])
    inside = inside_full[rows, cols].astype(np.uint8)
    member, arc = np.ones(inside.shape, np.float32), None
    if cfg.selective:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        if color.chromatic:
            member, veto, arc = _membership_chromatic(hsv, inside.astype(np.float32), color,
                                                      cfg)
        else:
            member, veto = _membership_achromatic(hsv, inside, color, palette)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        # the veto of whole parts only: specks of off-hue noise inside a body stay body
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cfg.close_px, cfg.close_px))
        veto = cv2.morphologyEx(veto.astype(np.float32), cv2.MORPH_OPEN, disc)
        member = guided_filter(grey, member.astype(np.float32) * inside, cfg.guide_radius,
                               cfg.guide_eps) * (1.0 - veto)
        # the filter leaks a little membership across edges; a faint tint is enough to
        # change the name of a near-neutral part, so low values go to 0
        member = _ramp(member, *cfg.alpha_ramp)
    a = np.clip(member, 0.0, 1.0) * edge_feather(inside, cfg.feather_px) * inside
    alpha[rows, cols] = np.rint(a * 255.0).astype(np.uint8)
    return alpha, source_box(rgb, alpha[rows, cols], color, arc, cfg)


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(w[order])
    idx = np.searchsorted(cum, np.asarray(qs) * cum[-1])
    return [float(x[order][min(i, len(x) - 1)]) for i in idx]


def source_box(rgb: np.ndarray, alpha: np.ndarray, color: Color, arc: HueArc | None,
               cfg: PrepassConfig = DEFAULT_PREPASS) -> SourceBox:
    """The alpha-weighted S, V and L ranges (5th-95th percentile) and mean L of an object.

    Args:
        rgb: ``(..., 3)`` uint8 pixels; ``alpha``: their ``(...)`` uint8 alpha.
    """
    from colorist.recolor.reference import rgb_to_lab

    sel = alpha > 0
    px, w = rgb[sel], alpha[sel].astype(np.float64)
    if len(px) == 0:
        return default_box(color)
    if len(px) > cfg.stat_samples:  # a strided sample: deterministic and spread out
        step = len(px) / cfg.stat_samples
        take = (np.arange(cfg.stat_samples) * step).astype(np.int64)
        px, w = px[take], w[take]
    hsv = cv2.cvtColor(np.ascontiguousarray(px).reshape(-1, 1, 3), cv2.COLOR_RGB2HSV)
    hsv = hsv.reshape(-1, 3).astype(np.float64)
    s = _weighted_quantiles(hsv[:, 1], w, (0.05, 0.95))
    v = _weighted_quantiles(hsv[:, 2], w, (0.05, 0.95))
    lightness = rgb_to_lab(px)[:, 0]
    l_mean = float(np.average(lightness, weights=w))
    l_lo, l_hi = _weighted_quantiles(lightness, w, (0.05, 0.95))
    weight = float(alpha[sel].sum()) / 255.0
    return SourceBox(arc, (s[0], s[1]), (v[0], v[1]), l_mean, weight, (l_lo, l_hi))


def prepass(
    images, masks, sources, palette: Palette, cfg: PrepassConfig = DEFAULT_PREPASS,
) -> tuple[list[np.ndarray], list[SourceBox]]:
    """``object_alpha`` over a batch: N alphas and N source boxes."""
    out = [object_alpha(im, m, palette[s], palette, cfg)
           for im, m, s in zip(images, masks, sources)]
    return [a for a, _ in out], [b for _, b in out]
