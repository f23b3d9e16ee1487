"""The per-(source, target) parameter table that every recolouring backend consumes.

One row of ``NUM_PARAMS`` float32 describes how to turn a pixel of the source colour into
the target colour (layout: ``PARAM_FIELDS``, mirrored by ``RecolorParam`` in
csrc/include/colorist/pixel_math.h). A batch is an ``(N, K, NUM_PARAMS)`` array, so one
launch recolours images whose objects have different colours, and one read of a pixel
writes all K variants.

Rules (the recolouring contract of DESIGN.md):

* target == source: copy.
* chromatic -> chromatic (HSV mode): the source arc maps linearly onto the target arc, and
  the rest of the hue circle linearly onto the rest, so off-range hues move continuously
  (no wrap-around, no collapse onto one hue). The source arc is the source colour's
  classification arc, or, given the object's hue histogram, the arc of the same width that
  holds most of the object's pixels (captions say "yellow" of a golden dog). S and V go
  through the target's ``sv`` map: identity for most hues, so shading and texture survive;
  orange/yellow lift V into [90, 255] and brown lowers it below 100 (brown <-> orange by V).
* any -> white / gray / black (HSV mode): hue kept, S and V by the target's ``sv`` map.
* white / gray / black -> chromatic (CIELAB mode): HSV cannot add colour believably to a
  grey pixel, so L keeps the shading (L' = L_t + gain * (L - L_s)) and a*b* are set to the
  target swatch's chroma.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from colorist.palette import DEFAULT_PALETTE, Color, HueArc, Palette

PARAM_FIELDS = (
    "mode", "src_lo", "src_w", "tgt_lo", "tgt_w", "s_mul", "s_add", "v_mul", "v_add",
    "l_mul", "l_add", "a_tgt", "b_tgt", "ab_mix", "ratio_in", "ratio_out",
)
NUM_PARAMS = 16
MODE_HSV, MODE_LAB, MODE_COPY = 0, 1, 2

# CIELAB mode: how much of the source's lightness variation (shading) the target keeps.
LAB_SHADING_GAIN = 0.6

_F = {name: i for i, name in enumerate(PARAM_FIELDS)}


def _row(**values: float) -> np.ndarray:
    row = np.zeros(NUM_PARAMS, dtype=np.float32)
    row[[_F["s_mul"], _F["v_mul"], _F["l_mul"]]] = 1.0
    for name, value in values.items():
        row[_F[name]] = value
    if row[_F["src_w"]] > 0:  # hue-map slopes, in float32 as the kernels would divide
        src_w, tgt_w, full = row[_F["src_w"]], row[_F["tgt_w"]], np.float32(180)
        row[_F["ratio_in"]] = tgt_w / src_w
        row[_F["ratio_out"]] = (full - tgt_w) / (full - src_w)
    return row


def swatch_lab(color: Color) -> np.ndarray:
    """CIELAB (L, a*, b*) of a colour's sRGB swatch."""
    from colorist.recolor.reference import rgb_to_lab

    return rgb_to_lab(np.array([color.rgb], dtype=np.uint8))[0]


def plan_row(source: Color, target: Color, source_arc: HueArc | None = None) -> np.ndarray:
    """The parameter row that recolours ``source`` pixels into ``target``.

    Args:
        source_arc: the object's own hue arc (``fit_source_arc``); default: the source
            colour's classification arc.
    """
    if source.name == target.name:
        return _row(mode=MODE_COPY)
    s_mul, s_add, v_mul, v_add = target.sv
    sv = {"s_mul": s_mul, "s_add": s_add, "v_mul": v_mul, "v_add": v_add}
    if not target.chromatic:
        return _row(mode=MODE_HSV, **sv)
    if source.chromatic:
        arc = source_arc or source.hue
        return _row(
            mode=MODE_HSV, src_lo=arc.lo, src_w=arc.width,
            tgt_lo=target.target_hue.lo, tgt_w=target.target_hue.width, **sv,
        )
    src_l = swatch_lab(source)[0]
    tgt_l, tgt_a, tgt_b = swatch_lab(target)
    return _row(
        mode=MODE_LAB,
        l_mul=LAB_SHADING_GAIN, l_add=tgt_l - LAB_SHADING_GAIN * src_l,
        a_tgt=tgt_a, b_tgt=tgt_b, ab_mix=1.0,
    )


def fit_source_arc(hist: np.ndarray, color: Color, min_pixels: int = 64) -> HueArc | None:
    """The arc of ``color``'s width that holds the most pixels of an object's hue histogram.

    Args:
        hist: ``(180,)`` counts of the object's chromatic pixels per hue (``hue_histogram``).
        color: the stated source colour (gives the width; ties go to the arc nearest its own).
        min_pixels: fewer chromatic pixels than this: None (keep the palette's arc).
    """
    if not color.chromatic or hist.sum() < min_pixels:
        return None
    w = max(1, int(round(color.hue.width)))
    ext = np.concatenate([[0], np.cumsum(np.concatenate([hist, hist[:w]]))])
    sums = ext[w : w + 180] - ext[:180]  # sums[lo] = pixels with hue in [lo, lo + w)
    best = np.flatnonzero(sums == sums.max())
    offset = np.abs((best - color.hue.lo + 90) % 180 - 90)
    return HueArc(float(best[np.argmin(offset)]), float(best[np.argmin(offset)] + w) % 180)


def plan_params(
    source: str,
    targets: Sequence[str],
    palette: Palette = DEFAULT_PALETTE,
    hue_hist: np.ndarray | None = None,
) -> np.ndarray:
    """``(K, NUM_PARAMS)`` float32 rows recolouring ``source`` into each of ``targets``.

    Args:
        hue_hist: the object's ``(180,)`` hue histogram; when given, the source arc is fitted
            to the object (``fit_source_arc``).

    Raises:
        UnknownColorError: a name the palette does not know (the message lists the palette).
    """
    if isinstance(targets, str):
        targets = [targets]
    if len(targets) == 0:
        raise ValueError("no target colours given")
    src = palette[source]
    arc = None if hue_hist is None else fit_source_arc(np.asarray(hue_hist), src)
    return np.stack([plan_row(src, palette[t], arc) for t in targets])


def plan_batch(
    sources: Sequence[str],
    targets: Sequence[Sequence[str]],
    palette: Palette = DEFAULT_PALETTE,
    hue_hists: np.ndarray | None = None,
) -> np.ndarray:
    """``(N, K, NUM_PARAMS)`` rows for N objects, each with its own source and K targets."""
    ks = {len(t) for t in targets}
    if len(ks) != 1:
        raise ValueError(f"every object of a batch needs the same number of targets, got {ks}")
    hists = [None] * len(sources) if hue_hists is None else hue_hists
    return np.stack([plan_params(s, t, palette, h) for s, t, h in zip(sources, targets, hists)])
