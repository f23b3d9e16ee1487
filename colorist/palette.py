"""The colour vocabulary: names, HSV classification and target ranges, swatches.

Units are OpenCV's 8-bit HSV: H in [0, 180), S and V in [0, 255]. Hue ranges are arcs on
the hue circle, ``[lo, lo + width)`` modulo 180, so red is ONE arc (170 -> 10) and never
the thesis' two ranges (red + red2).

Two kinds of hue range per chromatic colour, both data a user can override
(``Palette.from_dict`` / ``Palette.from_json`` / ``--palette FILE`` in the CLIs):

* classification arcs (``hue``): what colour a pixel is. They tile the circle without gaps
  or overlaps, starting from the thesis' widened code ranges (red 0-10 + 170-180, orange
  10-25, yellow 25-35, green 40-80, cyan 85-95, blue 100-130, purple 125-155, pink
  160-170) with the gaps and overlaps split at their midpoints:
  red 170-10, orange 10-22, yellow 22-35, green 35-80, cyan 80-98, blue 98-128,
  purple 128-150, pink 150-170.
* target boxes (``target_hue``, ``s_box``, ``v_box``): where a recoloured pixel lands
  (contract v2: the object's measured source box is scaled into it). They are calibrated
  against human colour naming (``colorist.naming``; ``python bench/quality.py``), not hue
  alone: pink is light and warm (around hot pink 255,105,180), orange and yellow are light,
  brown is a dark orange, cyan sits at H 84-89 where people stop saying blue, white is
  near 255 and black under 30. The classification arcs stay the thesis' widened ranges:
  they are what ``Palette.classify_rgb`` (mask refinement, the ``--from`` warning) uses,
  never the judge of a recolour.

Achromatic colours and brown are decided by S and V (see ``Thresholds``): a pixel is black
when V < 50, white or gray when S < 45 (white when V >= 175), brown when its hue is in the
brown arc (5-25, dark orange) and V < 100; otherwise its hue arc names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

HUE_PERIOD = 180.0


class UnknownColorError(KeyError, ValueError):
    """A colour name that the palette does not know."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


@dataclass(frozen=True)
class HueArc:
    """A circular hue range ``[lo, lo + width)`` in OpenCV units (period 180)."""

    lo: float
    hi: float

    @property
    def width(self) -> float:
        w = (self.hi - self.lo) % HUE_PERIOD
        return HUE_PERIOD if w == 0 else w

    def contains(self, hue: np.ndarray | float) -> np.ndarray | bool:
        """True where ``hue`` lies in the arc (works on arrays)."""
        return (np.asarray(hue, dtype=np.float64) - self.lo) % HUE_PERIOD < self.width


@dataclass(frozen=True)
class Color:
    """One palette colour.

    Attributes:
        name: canonical name ("gray", never "grey").
        chromatic: True for hue colours (brown included), False for white, gray, black.
        rgb: a typical sRGB swatch: the CIELAB target for achromatic sources and the label
            colour of previews.
        hue: classification arc (chromatic colours only).
        target_hue: arc where recoloured hues land (chromatic colours only).
        s_box: (low, high) saturation of the colour's target box, 0..255: where recoloured
            S lands (the object's own S range is scaled into it).
        v_box: (low, high) value of the target box, 0..255. Boxes are calibrated against
            human colour naming (``bench/quality.py``), not hue alone: pink is light and
            warm, orange and yellow need lightness (darker they read brown and olive),
            brown is a dark orange, white/gray/black differ only by V.
        aliases: other names accepted for this colour.
    """

    name: str
    chromatic: bool
    rgb: tuple[int, int, int]
    hue: HueArc | None = None
    target_hue: HueArc | None = None
    s_box: tuple[float, float] = (0.0, 255.0)
    v_box: tuple[float, float] = (0.0, 255.0)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """S/V rules of the pixel classifier and of the dominant-colour vote (0..255 units)."""

    black_v_max: int = 50  # V < black_v_max -> black
    achromatic_s_max: int = 45  # S < achromatic_s_max -> white or gray
    white_v_min: int = 175  # low S and V >= white_v_min -> white, else gray
    brown_v_max: int = 100  # brown hue arc and V < brown_v_max -> brown
    min_chromatic_fraction: float = 0.25  # share of chromatic pixels for a chromatic verdict


def _arc(lo: float, hi: float) -> HueArc:
    return HueArc(float(lo), float(hi))


DEFAULT_COLORS: tuple[Color, ...] = (
    Color("red", True, (200, 25, 35), _arc(170, 10), _arc(176, 4), (170, 255), (120, 225)),
    Color("orange", True, (245, 130, 20), _arc(10, 22), _arc(12, 19), (200, 255), (215, 255)),
    Color("yellow", True, (245, 215, 40), _arc(22, 35), _arc(25, 30), (170, 255), (215, 255)),
    Color("green", True, (40, 150, 60), _arc(35, 80), _arc(50, 66), (120, 230), (80, 200)),
    Color("cyan", True, (20, 225, 200), _arc(80, 98), _arc(84, 89), (170, 255), (170, 245)),
    Color("blue", True, (35, 75, 200), _arc(98, 128), _arc(106, 118), (150, 255), (100, 230)),
    Color("purple", True, (120, 50, 170), _arc(128, 150), _arc(134, 146), (120, 220),
          (80, 190)),
    Color("pink", True, (255, 105, 180), _arc(150, 170), _arc(161, 170), (90, 170),
          (215, 255)),
    Color("brown", True, (96, 56, 24), _arc(5, 25), _arc(9, 16), (140, 230), (60, 120)),
    Color("white", False, (240, 240, 240), s_box=(0, 8), v_box=(238, 255)),
    Color("gray", False, (128, 128, 128), s_box=(0, 18), v_box=(90, 165), aliases=("grey",)),
    Color("black", False, (25, 25, 25), s_box=(0, 60), v_box=(4, 30)),
)

# The order of hue colours checked by the classifier (brown is decided by V, not by arc).
_HUE_ORDER = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")


@dataclass(frozen=True)
class Palette:
    """An ordered set of colours plus the classifier thresholds.

    Label ``i`` of the classifiers is ``palette.names[i]``.
    """

    colors: tuple[Color, ...] = DEFAULT_COLORS
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        names = [c.name for c in self.colors]
        if len(set(names)) != len(names):
            raise ValueError(f"palette has duplicate colour names: {names}")
        for c in self.colors:
            if c.chromatic and (c.hue is None or c.target_hue is None):
                raise ValueError(f"chromatic colour {c.name!r} needs 'hue' and 'target_hue'")
            for box in ("s_box", "v_box"):
                lo, hi = getattr(c, box)
                if not 0 <= lo < hi <= 255:
                    raise ValueError(f"colour {c.name!r}: {box} needs 0 <= low < high <= 255, "
                                     f"got {(lo, hi)}")

    # ---- names -------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.colors)

    @property
    def chromatic_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.colors if c.chromatic)

    def canonical(self, name: str) -> str:
        """The canonical name of ``name`` ("Grey " -> "gray"); raises UnknownColorError."""
        key = str(name).strip().lower()
        for c in self.colors:
            if key == c.name or key in c.aliases:
                return c.name
        raise UnknownColorError(
            f"unknown colour {name!r}; the palette has: {', '.join(self.names)}"
        )

    def __getitem__(self, name: str) -> Color:
        return self.colors[self.index(name)]

    def __contains__(self, name: object) -> bool:
        try:
            self.canonical(str(name))
        except UnknownColorError:
            return False
        return True

    def index(self, name: str) -> int:
        return self.names.index(self.canonical(name))

    # ---- classification -----------------------------------------------------------------

    def classify_hsv(self, hsv: np.ndarray) -> np.ndarray:
        """Colour label of every pixel.

        Args:
            hsv: ``(..., 3)`` uint8 OpenCV HSV.

        Returns:
            ``(...)`` int16 labels, indices into ``self.names``.
        """
        hsv = np.asarray(hsv)
        if hsv.shape[-1:] != (3,):
            raise ValueError(f"classify_hsv expects (..., 3) HSV, got shape {hsv.shape}")
        h = hsv[..., 0].astype(np.int16)
        s = hsv[..., 1].astype(np.int16)
        v = hsv[..., 2].astype(np.int16)
        labels = self._classify_hue(h)
        t = self.thresholds
        if "brown" in self.names:
            brown = self["brown"].hue.contains(h) & (v < t.brown_v_max)
            labels[brown] = self.index("brown")
        achromatic = s < t.achromatic_s_max
        labels[achromatic & (v >= t.white_v_min)] = self._index_or(-1, "white")
        labels[achromatic & (v < t.white_v_min)] = self._index_or(-1, "gray")
        labels[v < t.black_v_max] = self._index_or(-1, "black")
        return labels

    def _index_or(self, default: int, name: str) -> int:
        return self.index(name) if name in self else default

    def _classify_hue(self, h: np.ndarray) -> np.ndarray:
        """Label by hue arc; a hue in no arc (a palette with gaps) takes the nearest arc."""
        hue_colors = [c for c in self.colors if c.chromatic and c.name != "brown"]
        if not hue_colors:
            return np.full(h.shape, -1, dtype=np.int16)
        # circular distance from each hue to each arc (0 inside the arc)
        dist = np.stack([_arc_distance(h, c.hue) for c in hue_colors])
        nearest = np.argmin(dist, axis=0)
        lut = np.array([self.names.index(c.name) for c in hue_colors], dtype=np.int16)
        return lut[nearest]

    def classify_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """Colour label of every pixel of ``(..., 3)`` uint8 RGB (see ``classify_hsv``)."""
        return self.classify_hsv(rgb_to_hsv(rgb))

    def color_histogram(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> dict[str, int]:
        """Pixel count per colour over ``mask > 0`` (all pixels when ``mask`` is None)."""
        rgb = np.asarray(rgb)
        pixels = rgb.reshape(-1, 3) if mask is None else rgb[np.asarray(mask) > 0]
        labels = self.classify_rgb(pixels.reshape(-1, 1, 3)).reshape(-1)
        counts = np.bincount(labels[labels >= 0], minlength=len(self.colors))
        return {name: int(n) for name, n in zip(self.names, counts)}

    def dominant_color(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> str | None:
        """The colour a person would name for the region ``mask > 0`` of ``rgb``.

        Shadows, highlights and windows make many achromatic pixels inside any object, so
        the verdict is the most frequent chromatic colour when chromatic pixels are at least
        ``thresholds.min_chromatic_fraction`` of the region, else the most frequent
        achromatic colour. Returns None for an empty region.
        """
        hist = self.color_histogram(rgb, mask)
        total = sum(hist.values())
        if total == 0:
            return None
        chromatic = {n: hist[n] for n in self.chromatic_names}
        if sum(chromatic.values()) >= self.thresholds.min_chromatic_fraction * total:
            return max(chromatic, key=chromatic.get)
        achromatic = {n: k for n, k in hist.items() if n not in chromatic}
        return max(achromatic, key=achromatic.get) if achromatic else max(hist, key=hist.get)

    # ---- (de)serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict:
        colors = []
        for c in self.colors:
            d = {"name": c.name, "chromatic": c.chromatic, "rgb": list(c.rgb)}
            if c.hue is not None:
                d["hue"] = [c.hue.lo, c.hue.hi]
                d["target_hue"] = [c.target_hue.lo, c.target_hue.hi]
            d["s_box"], d["v_box"] = list(c.s_box), list(c.v_box)
            if c.aliases:
                d["aliases"] = list(c.aliases)
            colors.append(d)
        return {"colors": colors, "thresholds": vars(self.thresholds).copy()}

    @classmethod
    def from_dict(cls, data: Mapping, base: Palette | None = None) -> Palette:
        """A palette from a dict like ``to_dict()``'s; colours and thresholds that ``data``
        leaves out come from ``base`` (the default palette), fields too."""
        base = base or DEFAULT_PALETTE
        colors = {c.name: c for c in base.colors}
        for d in data.get("colors", []):
            if "name" not in d:
                raise ValueError(f"palette colour entry without a 'name': {d!r}")
            colors[d["name"]] = _color_from_dict(d, colors.get(d["name"]))
        given = dict(data.get("thresholds", {}))
        unknown = set(given) - set(vars(base.thresholds))
        if unknown:
            raise ValueError(f"palette thresholds: unknown fields {sorted(unknown)}; known: "
                             f"{sorted(vars(base.thresholds))}")
        thresholds = replace(base.thresholds, **given)
        return cls(tuple(colors.values()), thresholds)

    @classmethod
    def from_json(cls, path: str | Path) -> Palette:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read palette file {path}: {e}") from e
        return cls.from_dict(data)


def _color_from_dict(d: Mapping, base: Color | None) -> Color:
    known = {"name", "chromatic", "rgb", "hue", "target_hue", "s_box", "v_box", "aliases"}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"palette colour {d['name']!r}: unknown fields {sorted(unknown)}")
    kw = dict(vars(base)) if base else {"name": d["name"], "chromatic": True, "rgb": (0, 0, 0)}
    for key, value in d.items():
        if key in ("hue", "target_hue"):
            value = _arc(*value)
        elif key in ("rgb", "s_box", "v_box", "aliases"):
            value = tuple(value)
        kw[key] = value
    return Color(**kw)


def _arc_distance(h: np.ndarray, arc: HueArc) -> np.ndarray:
    """Circular distance from hues to an arc; 0 inside it."""
    u = (h.astype(np.float64) - arc.lo) % HUE_PERIOD
    outside = u >= arc.width
    return np.where(outside, np.minimum(u - arc.width, HUE_PERIOD - u), 0.0)


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 RGB -> ``(..., 3)`` uint8 OpenCV HSV (H in [0, 180))."""
    import cv2

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.size == 0:  # OpenCV rejects empty arrays
        return rgb.copy()
    flat = rgb.reshape(-1, 1, 3)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2HSV).reshape(rgb.shape)


DEFAULT_PALETTE = Palette()


def load_palette(path: str | Path | None) -> Palette:
    """The default palette, or the one in the JSON file ``path`` (overriding the default)."""
    return DEFAULT_PALETTE if path is None else Palette.from_json(path)


def canonical_colors(names: Iterable[str], palette: Palette = DEFAULT_PALETTE) -> list[str]:
    return [palette.canonical(n) for n in names]
