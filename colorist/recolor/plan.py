"""The per-(source, target) parameter table that every recolouring backend consumes.

One row of ``NUM_PARAMS`` float32 describes how to turn a pixel of one object into the
target colour. ``PARAM_FIELDS`` is the one definition of the layout: the C header
``csrc/include/colorist/param_layout.h`` is generated from it (``write_c_header``; a test
checks it is current) and the Triton kernel indexes rows through ``PARAM_INDEX``. A batch
is an ``(N, K, NUM_PARAMS)`` array: one launch recolours objects of different colours, and
one read of a pixel writes all K variants.

Rules (the recolouring contract v2 of DESIGN.md):

* target == source: copy.
* chromatic -> chromatic, any -> white / gray / black (HSV mode): H, S and V are scaled
  linearly from the object's own source box (``SourceBox``: its fitted hue arc and S, V
  ranges, measured by the pre-pass) into the target colour's box (``Color.target_hue``,
  ``s_box``, ``v_box``). Hue: the source arc maps onto the target arc and the rest of the
  circle onto the rest (continuous, no wrap-around). S and V: the box centres map onto
  each other with a slope that is the ratio of the box widths, capped so that texture and
  JPEG noise are not amplified. Where the hue is unreliable (S * V / 255 below
  ``RELIABLE_SV``) the pixel takes the target hue (centre) and the target saturation
  instead of a mapped noisy one, blended linearly in between.
* white / gray / black -> chromatic (CIELAB mode): HSV cannot add colour believably to a
  grey pixel, so a*, b* are set to the target swatch's and L keeps the object's detail:
  its range maps onto the target's lightness range (``target_l_box``) centre to centre,
  at full detail (slope 1) unless the object spans more than the target allows (an
  orange or a pink is light: a darker one is named brown or purple), and never below
  ``MIN_L_DETAIL`` of it (texture must survive).

The kernels then blend: ``out = (orig * (255 - alpha) + recoloured * alpha + 127) // 255``
with the pre-pass's uint8 alpha (0 outside the mask: those pixels stay bit-identical).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorist.palette import DEFAULT_PALETTE, Color, HueArc, Palette

PARAM_FIELDS = (
    "mode",
    # hue: source arc [src_lo, src_lo + src_w) -> target arc, slopes precomputed in float32
    "src_lo", "src_w", "tgt_lo", "tgt_w", "ratio_in", "ratio_out",
    # hue reliability: r = clamp((S * V / 255 - rel_lo) * rel_inv, 0, 1); unreliable
    # pixels take the target hue centre tgt_hc and the target saturation centre s_tc
    "rel_lo", "rel_inv", "tgt_hc", "s_tc",
    # S' = S * s_mul + s_add, V' = V * v_mul + v_add (0..255 units)
    "s_mul", "s_add", "v_mul", "v_add",
    # CIELAB mode: L' = L * l_mul + l_add; a' = a + ab_mix * (a_tgt - a), same for b
    "l_mul", "l_add", "a_tgt", "b_tgt", "ab_mix",
)
NUM_PARAMS = len(PARAM_FIELDS)
PARAM_INDEX = {name: i for i, name in enumerate(PARAM_FIELDS)}
MODE_HSV, MODE_LAB, MODE_COPY = 0, 1, 2

# Hue reliability ramp, in S * V / 255 units (0..255): below lo the hue is noise.
RELIABLE_SV = (12.0, 40.0)
# Largest S and V slopes: a wider target box than source box is reached only up to this
# stretch, so JPEG chroma noise and texture are not amplified.
MAX_S_SLOPE, MAX_V_SLOPE = 1.0, 1.6
# CIELAB mode keeps at least this share of the object's lightness detail (texture), even
# where the target's lightness range is narrower (a light pink, a yellow).
MIN_L_DETAIL = 0.6
# How much a recolour may amplify chroma noise (the judge allows 1.5x).
NOISE_SLACK = 1.2
# Source boxes narrower than this (0..255 units) count as this wide (flat objects).
MIN_BOX_WIDTH = 24.0

_F = PARAM_INDEX


@dataclass(frozen=True)
class SourceBox:
    """What the pre-pass measured of one object's source-colour pixels (alpha-weighted).

    Attributes:
        arc: the fitted hue arc (None: achromatic source, or too few chromatic pixels:
            the palette's arc is used).
        s: (low, high) saturation, 5th and 95th weighted percentiles, 0..255.
        v: (low, high) value, 0..255.
        l_mean: mean CIELAB lightness of the object's pixels.
        lightness: (low, high) CIELAB L, 5th and 95th weighted percentiles.
        weight: the alpha mass behind the figures (pixels x alpha / 255).
    """

    arc: HueArc | None = None
    s: tuple[float, float] = (0.0, 255.0)
    v: tuple[float, float] = (0.0, 255.0)
    l_mean: float = 50.0
    weight: float = 0.0
    lightness: tuple[float, float] = (0.0, 100.0)


def _row(**values: float) -> np.ndarray:
    row = np.zeros(NUM_PARAMS, dtype=np.float32)
    row[[_F["s_mul"], _F["v_mul"], _F["l_mul"]]] = 1.0
    row[_F["rel_lo"]], row[_F["rel_inv"]] = -1.0, 1.0  # reliable everywhere
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


def box_map(src: tuple[float, float], tgt: tuple[float, float],
            max_slope: float, min_slope: float = 0.0) -> tuple[float, float]:
    """(mul, add) mapping the centre of ``src`` onto the centre of ``tgt``, slope the ratio
    of the widths (the source counted at least ``MIN_BOX_WIDTH`` wide), clamped."""
    src_w = max(src[1] - src[0], MIN_BOX_WIDTH)
    slope = max(min((tgt[1] - tgt[0]) / src_w, max_slope), min_slope)
    return slope, (tgt[0] + tgt[1]) / 2 - slope * (src[0] + src[1]) / 2


def plan_row(source: Color, target: Color, box: SourceBox | None = None) -> np.ndarray:
    """The parameter row that recolours an object of colour ``source`` into ``target``.

    Args:
        box: the object's measured source box (``colorist.recolor.prepass``); default: the
            source colour's own target box and arc (an object that looks like the palette).
    """
    if source.name == target.name:
        return _row(mode=MODE_COPY)
    box = box or default_box(source)
    if not target.chromatic or source.chromatic:
        return _hsv_row(source, target, box)
    _, tgt_a, tgt_b = swatch_lab(target)
    l_mul, l_add = box_map(box.lightness, target_l_box(target), 1.0, MIN_L_DETAIL)
    return _row(mode=MODE_LAB, l_mul=l_mul, l_add=l_add, a_tgt=tgt_a, b_tgt=tgt_b, ab_mix=1.0)


def target_l_box(color: Color) -> tuple[float, float]:
    """The CIELAB lightness range of a colour's target box (its V range at the box's centre
    hue and saturation): where an achromatic object's lightness lands in CIELAB mode."""
    from colorist.recolor.reference import hsv_to_rgb_u8, rgb_to_lab

    hue = (color.target_hue.lo + color.target_hue.width / 2) % 180 if color.chromatic else 0
    hsv = np.array([[hue, _centre(color.s_box), v] for v in color.v_box], np.float32)
    lab = rgb_to_lab(hsv_to_rgb_u8(hsv))
    return float(lab[0, 0]), float(lab[1, 0])


def _centre(box: tuple[float, float]) -> float:
    return (box[0] + box[1]) / 2


def _hsv_row(source: Color, target: Color, box: SourceBox) -> np.ndarray:
    # Chroma ~ S * V: a pixel's S noise shows as chroma noise in proportion to its V, and
    # its hue noise in proportion to its chroma. So the S slope is capped by the V gain,
    # and hue deviations shrink by the chroma gain (a dark or pale object's noisy hue
    # must not become a saturated colour's speckle).
    v_gain = _centre(target.v_box) / max(_centre(box.v), 1.0)
    s_mul, s_add = box_map(box.s, target.s_box, min(MAX_S_SLOPE, NOISE_SLACK / v_gain))
    v_mul, v_add = box_map(box.v, target.v_box, MAX_V_SLOPE)
    sv = {"s_mul": s_mul, "s_add": s_add, "v_mul": v_mul, "v_add": v_add}
    if not target.chromatic:  # hue kept (it hardly shows at low S)
        return _row(mode=MODE_HSV, **sv)
    arc, tgt = box.arc or source.hue, target.target_hue
    chroma_gain = (_centre(target.s_box) * _centre(target.v_box)) / max(
        _centre(box.s) * _centre(box.v), 1.0)
    centre = (tgt.lo + tgt.width / 2) % 180
    width = min(tgt.width, NOISE_SLACK * arc.width / max(chroma_gain, 1.0))
    lo, hi = RELIABLE_SV
    return _row(
        mode=MODE_HSV, src_lo=arc.lo, src_w=arc.width, tgt_lo=(centre - width / 2) % 180,
        tgt_w=width, rel_lo=lo, rel_inv=1.0 / (hi - lo), tgt_hc=centre,
        s_tc=_centre(target.s_box), **sv,
    )


def default_box(color: Color) -> SourceBox:
    """The source box of an object that looks exactly like the palette's ``color``."""
    l_box = target_l_box(color)
    return SourceBox(color.hue if color.chromatic else None, color.s_box, color.v_box,
                     sum(l_box) / 2, 0.0, l_box)


def plan_params(
    source: str,
    targets: Sequence[str],
    palette: Palette = DEFAULT_PALETTE,
    box: SourceBox | None = None,
) -> np.ndarray:
    """``(K, NUM_PARAMS)`` float32 rows recolouring ``source`` into each of ``targets``.

    Args:
        box: the object's measured source box; default ``default_box(source)``.

    Raises:
        UnknownColorError: a name the palette does not know (the message lists the palette).
    """
    if isinstance(targets, str):
        targets = [targets]
    if len(targets) == 0:
        raise ValueError("no target colours given")
    src = palette[source]
    return np.stack([plan_row(src, palette[t], box) for t in targets])


def plan_batch(
    sources: Sequence[str],
    targets: Sequence[Sequence[str]],
    palette: Palette = DEFAULT_PALETTE,
    boxes: Sequence[SourceBox | None] | None = None,
) -> np.ndarray:
    """``(N, K, NUM_PARAMS)`` rows for N objects, each with its own source and K targets."""
    ks = {len(t) for t in targets}
    if len(ks) != 1:
        raise ValueError(f"every object of a batch needs the same number of targets, got {ks}")
    boxes = [None] * len(sources) if boxes is None else boxes
    return np.stack([plan_params(s, t, palette, b) for s, t, b in zip(sources, targets, boxes)])


# ---- the C view of the layout ------------------------------------------------------------

C_HEADER = Path(__file__).resolve().parents[2] / "csrc/include/colorist/param_layout.h"


def c_header_text() -> str:
    """The text of ``param_layout.h``: ``PARAM_FIELDS`` as a C enum."""
    lines = [
        "// GENERATED by colorist/recolor/plan.py (write_c_header) from PARAM_FIELDS:",
        "// do not edit; tests/test_pixel_math.py checks that it is current.",
        "#pragma once",
        "namespace colorist {",
        "enum RecolorParam {",
        *[f"  P_{name.upper()} = {i}," for i, name in enumerate(PARAM_FIELDS)],
        f"  COLORIST_PARAMS = {NUM_PARAMS}",
        "};",
        f"enum RecolorMode {{ MODE_HSV = {MODE_HSV}, MODE_LAB = {MODE_LAB}, "
        f"MODE_COPY = {MODE_COPY} }};",
        "}  // namespace colorist",
        "",
    ]
    return "\n".join(lines)


def write_c_header(path: Path = C_HEADER) -> Path:
    """Regenerate ``param_layout.h`` (``python -m colorist.recolor.plan``)."""
    path.write_text(c_header_text())
    return path


if __name__ == "__main__":
    print(write_c_header())
