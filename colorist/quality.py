"""How good a recolour is, judged by people's colour names, never by the palette's ranges.

Per variant of one object (``judge_variants``):

* **body**: the object's pixels (mask eroded by ``EDGE_PX``) that the human colour namer
  (``colorist.naming``, built from the XKCD survey) names with the source colour in the
  original. When the namer gives the source colour to under ``MIN_BODY`` of the object
  (a caption's "yellow" dog that people call orange), the body is the pixels of the name
  the namer gives most often.
* **hit**: the share of body pixels named as the target in the variant.
* **chroma noise**: RMS over the body of the high-frequency part of CIELAB a*, b* (the
  image minus its Gaussian blur, sigma 1 px), weighted as CIEDE2000 weights colour
  differences: the part along the local chroma direction divided by S_C = 1 + 0.045 C*,
  the part across it (hue) by S_H = 1 + 0.015 C* (C* of the blurred image), because the
  same a*b* step is far less visible on a saturated colour than on a grey one. Variant
  over original, the original's floored at ``NOISE_FLOOR`` = 1 (one just-noticeable
  CIEDE2000 difference: noise nobody can see is not counted).
  Lifting the lightness of dark pixels exposes their noisy hue: this catches it.
* **collateral**: the share of the object's *other parts* (windows, tyres, lettering)
  whose name changed visibly (CIELAB difference over ``MIN_CHANGE``: a name that flips
  under an invisible tint is the namer's boundary, not collateral). Other parts are
  pixels that people name with another colour (the namer gives the source colour under
  ``OTHER_MAX_P``) AND whose chromaticity is not the body's: shading changes lightness,
  not the hue angle, so a yellow hydrant's shadow (named "brown" pixel by pixel) is body,
  not another part.
  Chromatic source: the CIELAB hue angle is over ``PART_HUE_DEG`` from the body's median,
  or the pixel is colourless (C* < ``GREY_C``) and not dark (L* > ``DARK_L``: dark
  colourless pixels are shadow or tyre, which no pixel-wise judge can tell apart, so they
  are not judged). Achromatic source: the pixel is clearly coloured (C* > ``PART_C``; the
  tint that shade and reflections give a white body stays below it), or it is far
  in lightness (a white or gray object's black parts, a black object's white parts).
  Specks thinner than ``PART_OPEN_PX`` (highlights, reflections) are not parts, nor is the
  ``PART_EDGE_PX`` band inside the mask edge (COCO polygons overshoot onto the background
  by a few pixels: those slivers are the annotation's, not the object's), and when
  the parts cover under ``MIN_PARTS`` of the object (slivers of background where the
  polygon overshoots) there is nothing to judge: collateral 0.
* **texture**: the same high-frequency RMS of L*, variant over original (1: all the
  shading detail kept; a flat plastic look is near 0).

A variant is **good** when hit >= ``MIN_HIT``, chroma noise <= ``MAX_NOISE`` and
collateral <= ``MAX_COLLATERAL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import cv2
import numpy as np

EDGE_PX, PART_EDGE_PX = 2, 5
MIN_BODY = 0.10
NOISE_FLOOR = 1.0
OTHER_MAX_P, MIN_PARTS, MIN_CHANGE = 0.05, 0.005, 5.0
PART_HUE_DEG, GREY_C, DARK_L, PART_C, PART_OPEN_PX = 40.0, 10.0, 30.0, 25.0, 5
MIN_HIT, MAX_NOISE, MAX_COLLATERAL = 0.5, 1.5, 0.10


@dataclass(frozen=True)
class VariantQuality:
    """The judge's figures for one variant (see the module docstring)."""

    target: str
    hit: float
    chroma_noise: float
    collateral: float
    texture: float
    body_name: str
    body_pixels: int

    @property
    def good(self) -> bool:
        return (self.hit >= MIN_HIT and self.chroma_noise <= MAX_NOISE
                and self.collateral <= MAX_COLLATERAL)

    def failure(self) -> str | None:
        """Why the variant is not good (None when it is)."""
        why = []
        if self.hit < MIN_HIT:
            why.append(f"body named {self.target} on {self.hit:.0%} < {MIN_HIT:.0%}")
        if self.chroma_noise > MAX_NOISE:
            why.append(f"chroma noise x{self.chroma_noise:.2f} > x{MAX_NOISE}")
        if self.collateral > MAX_COLLATERAL:
            why.append(f"collateral {self.collateral:.0%} > {MAX_COLLATERAL:.0%}")
        return "; ".join(why) or None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(good=self.good, hit=round(self.hit, 4), texture=round(self.texture, 3),
                 chroma_noise=round(self.chroma_noise, 3),
                 collateral=round(self.collateral, 4))
        return d


def lab32(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 sRGB -> float32 CIELAB by OpenCV: within 0.6 of the exact CIE
    formulas (``reference.rgb_to_lab``, the kernels' oracle), smooth, and ~20x faster,
    which is what a judge of millions of pixels needs."""
    rgb = np.ascontiguousarray(rgb)
    flat = rgb.reshape(-1, 1, 3).astype(np.float32) * np.float32(1 / 255)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(rgb.shape)


def _crop_box(mask: np.ndarray, margin: int = 4) -> tuple[slice, slice]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (slice(max(ys.min() - margin, 0), min(ys.max() + margin + 1, h)),
            slice(max(xs.min() - margin, 0), min(xs.max() + margin + 1, w)))


def _high_freq_rms(lab: np.ndarray, region: np.ndarray, channels: slice) -> float:
    """RMS over ``region`` of ``lab[..., channels]`` minus its Gaussian blur (sigma 1)."""
    x = lab[..., channels].astype(np.float32)
    hf = x - cv2.GaussianBlur(x, (0, 0), 1.0).reshape(x.shape)
    return float(np.sqrt((hf[region] ** 2).sum(axis=-1).mean())) if region.any() else 0.0


def chroma_noise(lab: np.ndarray, region: np.ndarray) -> float:
    """CIEDE2000-weighted RMS of the high-frequency a*b* over ``region`` (module docstring)."""
    ab = lab[..., 1:3].astype(np.float32)
    smooth = cv2.GaussianBlur(ab, (0, 0), 1.0)
    hf = (ab - smooth)[region]
    smooth = smooth[region]
    chroma = np.hypot(smooth[:, 0], smooth[:, 1])
    radial = smooth / np.maximum(chroma, 1e-6)[:, None]
    d_c = (hf * radial).sum(axis=1)
    d_h = hf[:, 1] * radial[:, 0] - hf[:, 0] * radial[:, 1]
    weighted = (d_c / (1 + 0.045 * chroma)) ** 2 + (d_h / (1 + 0.015 * chroma)) ** 2
    return float(np.sqrt(weighted.mean())) if len(weighted) else 0.0


def _other_parts(probs: np.ndarray, lab: np.ndarray, body: np.ndarray,
                 source_label: int | None, chromatic: bool) -> np.ndarray:
    """The pixels of other parts (see the module docstring)."""
    named_other = np.ones(probs.shape[:2], bool)
    if source_label is not None:
        named_other = probs[..., source_label] < OTHER_MAX_P
    L, chroma = lab[..., 0], np.hypot(lab[..., 1], lab[..., 2])
    if not chromatic:
        body_l = float(np.median(L[body])) if body.any() else 50.0
        return _parts(named_other & ((chroma > PART_C) | (np.abs(L - body_l) > 50.0)))
    angle = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    body_angle = _circular_median_deg(angle[body]) if body.any() else 0.0
    off_hue = np.abs((angle - body_angle + 180.0) % 360.0 - 180.0) > PART_HUE_DEG
    grey = chroma < GREY_C
    return _parts(named_other & ((off_hue & ~grey) | (grey & (L > DARK_L))))


def _parts(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` opened by a ``PART_OPEN_PX`` disc: parts keep their area, specks (the
    highlights and reflections a body is allowed to carry along) go."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (PART_OPEN_PX, PART_OPEN_PX))
    return cv2.morphologyEx(pixels.astype(np.uint8), cv2.MORPH_OPEN, disc).astype(bool)


def _circular_median_deg(angles: np.ndarray) -> float:
    """The mean direction of ``angles`` (degrees): the body's hue angle."""
    rad = np.radians(angles)
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())))


def _body(names: np.ndarray, inside: np.ndarray, source_label: int | None) -> np.ndarray:
    """Pixels of ``inside`` named ``source_label``; the most frequent name's when that is
    under MIN_BODY of the object."""
    n_inside = max(int(inside.sum()), 1)
    if source_label is not None:
        body = inside & (names == source_label)
        if body.sum() >= MIN_BODY * n_inside:
            return body
    counts = np.bincount(names[inside], minlength=1)
    return inside & (names == int(np.argmax(counts)))


def judge_variants(
    original: np.ndarray,
    mask: np.ndarray,
    source: str,
    variants: Mapping[str, np.ndarray],
    namer=None,
) -> list[VariantQuality]:
    """Judge each variant of one object.

    Args:
        original: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)``; > 0 marks the object.
        source: the colour the caption names.
        variants: target colour -> ``(H, W, 3)`` uint8 RGB recolour.
        namer: a ``colorist.naming.ColorNamer`` (default: the XKCD one).

    Returns:
        One ``VariantQuality`` per variant, in ``variants``' order.
    """
    from colorist.naming import load_namer

    namer = namer or load_namer()
    full = np.asarray(mask) > 0
    if not full.any():
        raise ValueError("cannot judge a recolour of an empty mask")
    rows, cols = _crop_box(full)
    inside = full[rows, cols]
    core = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8),
                     iterations=EDGE_PX).astype(bool)
    core = core if core.sum() >= 16 else inside
    orig = original[rows, cols]
    names = namer.name_pixels(orig)
    terms = list(namer.terms)
    source_label = terms.index(source) if source in terms else None
    body = _body(names, core, source_label)
    lab0 = lab32(orig)
    chromatic = source not in ("white", "gray", "black")
    deep = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8),
                     iterations=PART_EDGE_PX).astype(bool)
    others = deep & ~body & _other_parts(namer.probabilities(orig), lab0, body, source_label,
                                         chromatic)
    noise0 = max(chroma_noise(lab0, body), NOISE_FLOOR)
    tex0 = max(_high_freq_rms(lab0, body, slice(0, 1)), 1e-6)
    out = []
    for target, image in variants.items():
        var = image[rows, cols]
        names_v = namer.name_pixels(var)
        lab = lab32(var)
        hit = float((names_v[body] == terms.index(target)).mean()) if target in terms else 0.0
        judged = others.sum() >= MIN_PARTS * core.sum()
        moved = np.linalg.norm(lab[others] - lab0[others], axis=-1) > MIN_CHANGE
        flipped = (names_v[others] != names[others]) & moved
        changed = float(flipped.mean()) if judged else 0.0
        out.append(VariantQuality(
            target, hit, chroma_noise(lab, body) / noise0, changed,
            _high_freq_rms(lab, body, slice(0, 1)) / tex0, terms[int(names[body][0])]
            if body.any() else source, int(body.sum()),
        ))
    return out


def summarize(qualities: list[VariantQuality]) -> dict:
    """Per target and overall: variants, good share, mean hit / noise / collateral."""
    by_target: dict[str, list[VariantQuality]] = {}
    for q in qualities:
        by_target.setdefault(q.target, []).append(q)

    def row(qs: list[VariantQuality]) -> dict:
        return {
            "variants": len(qs), "good": sum(q.good for q in qs),
            "good_rate": round(sum(q.good for q in qs) / len(qs), 4) if qs else 0.0,
            "hit": round(float(np.mean([q.hit for q in qs])), 3) if qs else 0.0,
            "chroma_noise": round(float(np.median([q.chroma_noise for q in qs])), 3)
            if qs else 0.0,
            "collateral": round(float(np.mean([q.collateral for q in qs])), 4) if qs else 0.0,
            "texture": round(float(np.median([q.texture for q in qs])), 3) if qs else 0.0,
        }

    return {"all": row(qualities), "by_target": {t: row(q) for t, q in by_target.items()}}


# ---- the quality check of the bulk CLI and the dataset builder -------------------------


def check_variants(original: np.ndarray, mask: np.ndarray, source: str,
                   variants: Mapping[str, np.ndarray], namer=None) -> dict[str, dict]:
    """``judge_variants`` as the records of results.jsonl: target -> the judge's figures
    (``good``, ``hit``, ``chroma_noise``, ``collateral``, ``texture``). The copy of the
    source colour (target == source) is not judged."""
    todo = {t: v for t, v in variants.items() if t != source}
    if not todo:
        return {}
    return {q.target: {k: v for k, v in q.to_dict().items() if k != "target"}
            for q in judge_variants(original, mask, source, todo, namer)}


def check_sampled(original_px: np.ndarray, variant_px: Mapping[str, np.ndarray],
                  source: str, namer=None) -> dict[str, dict]:
    """The GPU path's check from sampled pixels only (no image leaves the device): the hit
    rate over the samples the namer gives the source colour (or its most frequent name);
    chroma noise and collateral need neighbourhoods and are not measured here.

    Args:
        original_px: ``(n, 3)`` uint8 sampled object pixels of the original.
        variant_px: target -> ``(n, 3)`` the same samples in each variant.
    """
    from colorist.naming import load_namer

    namer = namer or load_namer()
    terms = list(namer.terms)
    names = namer.name_pixels(original_px)
    body = _body(names, np.ones(len(names), bool), terms.index(source)
                 if source in terms else None)
    out = {}
    for target, px in variant_px.items():
        if target == source:
            continue
        hit = float((namer.name_pixels(px)[body] == terms.index(target)).mean()) \
            if body.any() and target in terms else 0.0
        out[target] = {"good": hit >= MIN_HIT, "hit": round(hit, 4), "sampled": True}
    return out


def check_means(entries: list[dict]) -> dict:
    """Mean hit, median chroma noise and mean collateral of a target's check entries
    (fields the sampled GPU check does not measure are left out)."""
    out = {}
    for key, stat in (("hit", np.mean), ("chroma_noise", np.median), ("collateral", np.mean)):
        values = [e[key] for e in entries if isinstance(e, dict) and key in e]
        if values:
            out[key] = round(float(stat(values)), 4)
    return out


def check_passed(entry: object) -> bool:
    """Whether one target's entry of a results record passed the quality check."""
    return isinstance(entry, dict) and entry.get("good") is True
