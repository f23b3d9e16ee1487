"""Human colour naming: the independent judge of every recolour.

A ``ColorNamer`` says which of the 12 basic terms (red, orange, yellow, green, cyan, blue,
purple, pink, brown, white, gray, black) a person would call an sRGB colour. It never uses
the palette's HSV ranges: its tables come from human naming data, built by
``scripts/make_color_namer.py`` into ``colorist/data/color_namer.npz``
(see docs/color-namer.md):

* ``"xkcd"`` (default): k-NN in CIELAB over the XKCD colour survey's 949 named colours
  (CC0), each mapped to a basic term by its head word, plus neutral anchors.
* ``"css"``: the same kind of table from a different source, the CSS4/X11 named colours
  plus Berlin & Kay's focal colours: a held-out second opinion.

Each table holds uint8 probabilities (summing to 255) on a 33^3 RGB grid with channel
values ``i * 255 / 32``; lookups interpolate trilinearly, so probabilities vary smoothly
and sum to 1. The runtime needs numpy only.

Example::

    namer = load_namer()
    namer.name((255, 105, 180))                 # 'pink'
    labels = namer.name_pixels(image)           # (H, W) int16 indices into namer.terms
    namer.region_name(image, mask)              # 'red'
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

DATA_PATH = Path(__file__).resolve().parent / "data" / "color_namer.npz"
MODELS = ("xkcd", "css")
_CHUNK = 1 << 14  # pixels per interpolation chunk: keeps temporaries in cache-sized blocks
_LUT_MIN_PIXELS = 1 << 16  # from this many pixels on, name_pixels uses the 24-bit label LUT


class ColorNamer:
    """Soft colour names from a probability table on a regular RGB grid.

    Args:
        table: ``(levels**3, T)`` uint8 probabilities (rows sum to 255), grid point
            ``(i, j, k)`` at row ``(i * levels + j) * levels + k`` for RGB values
            ``(i, j, k) * 255 / (levels - 1)``.
        terms: the ``T`` term names; label ``t`` of ``name_pixels`` is ``terms[t]``.
        chromatic: ``T`` flags, False for the achromatic terms (white, gray, black).
        model: a name for messages.
    """

    def __init__(self, table: np.ndarray, terms, chromatic, model: str = "") -> None:
        levels = round(len(table) ** (1 / 3))
        if table.ndim != 2 or levels**3 != len(table) or table.shape[1] != len(terms):
            raise ValueError(f"namer table {model!r}: bad shape {table.shape}")
        self.model = model
        self.terms = tuple(str(t) for t in terms)
        self.chromatic = np.asarray(chromatic, dtype=bool)
        self.levels = levels
        self._table = table.astype(np.float32) / np.float32(255)
        self._build_luts(levels)
        self._cell_label = _uniform_cell_labels(table, levels)

    def _build_luts(self, levels: int) -> None:
        """Per-channel lookup tables: grid row offset, cell offset and weight per 8-bit value."""
        cells = levels - 1
        pos = np.arange(256) * (cells / 255.0)
        lo = np.minimum(np.floor(pos).astype(np.int32), cells - 1)
        self._frac = (pos - lo).astype(np.float32)
        row_strides = np.array([levels * levels, levels, 1], np.int32)
        cell_strides = np.array([cells * cells, cells, 1], np.int32)
        self._row_lut = lo[None, :] * row_strides[:, None]  # (3, 256)
        self._cell_lut = lo[None, :] * cell_strides[:, None]  # (3, 256)
        corners = [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]
        self._corners = [(int(np.dot(c, row_strides)), c) for c in corners]

    # ---- per pixel -------------------------------------------------------------------

    def probabilities(self, rgb) -> np.ndarray:
        """Soft names of every pixel.

        Args:
            rgb: ``(..., 3)`` uint8 sRGB (integer arrays in 0..255 are accepted).

        Returns:
            ``(..., T)`` float32 probabilities over ``self.terms``; they sum to 1.
        """
        rgb = _as_rgb(rgb)
        flat = rgb.reshape(-1, 3)
        out = np.empty((len(flat), len(self.terms)), np.float32)
        for start in range(0, len(flat), _CHUNK):
            out[start : start + _CHUNK] = self._interpolate(flat[start : start + _CHUNK])
        return out.reshape(*rgb.shape[:-1], len(self.terms))

    def _interpolate(self, px: np.ndarray) -> np.ndarray:
        """Trilinear interpolation of the table at ``(n, 3)`` uint8 pixels -> ``(n, T)``."""
        r, g, b = px[:, 0], px[:, 1], px[:, 2]
        base = self._row_lut[0][r] + self._row_lut[1][g] + self._row_lut[2][b]
        f = (self._frac[r], self._frac[g], self._frac[b])
        one_minus = (1 - f[0], 1 - f[1], 1 - f[2])
        out = np.zeros((len(px), len(self.terms)), np.float32)
        for offset, corner in self._corners:
            w = np.ones(len(px), np.float32)
            for axis, upper in enumerate(corner):
                w *= f[axis] if upper else one_minus[axis]
            out += w[:, None] * np.take(self._table, base + offset, axis=0)
        return out

    def name_pixels(self, rgb) -> np.ndarray:
        """Most probable term of every pixel (= argmax of ``probabilities``).

        Inputs of 65536 pixels or more read a label per 24-bit colour (16 MiB, built on
        first use in about a second); smaller ones look up grid cells (``_name_by_cell``).
        Both give exactly the argmax of the interpolated probabilities.

        Args:
            rgb: ``(..., 3)`` uint8 sRGB.

        Returns:
            ``(...)`` int16 labels, indices into ``self.terms``.
        """
        rgb = _as_rgb(rgb)
        flat = rgb.reshape(-1, 3)
        if len(flat) >= _LUT_MIN_PIXELS:
            code = flat[:, 0].astype(np.int32) << 16
            code |= flat[:, 1].astype(np.int32) << 8
            code |= flat[:, 2]
            labels = np.take(self._label_lut, code).astype(np.int16)
        else:
            labels = self._name_by_cell(flat)
        return labels.reshape(rgb.shape[:-1])

    def _name_by_cell(self, flat: np.ndarray) -> np.ndarray:
        """Labels of ``(n, 3)`` uint8 pixels: pixels in grid cells whose 8 corners share one
        strict winner take it (a convex combination keeps the winner); only the others are
        interpolated."""
        cell = self._cell_lut[0][flat[:, 0]] + self._cell_lut[1][flat[:, 1]]
        cell += self._cell_lut[2][flat[:, 2]]
        labels = np.take(self._cell_label, cell)
        mixed = np.flatnonzero(labels < 0)
        if len(mixed):
            labels[mixed] = self.probabilities(flat[mixed]).argmax(axis=1)
        return labels

    @functools.cached_property
    def _label_lut(self) -> np.ndarray:
        """``(2**24,)`` int8 label of every 24-bit colour ``(r << 16) | (g << 8) | b``.

        Cells with one winner fill their colours at once; the colours of the other cells
        (about a fifth) are interpolated in chunks, as ``_name_by_cell`` would.
        """
        cells = self.levels - 1
        lo = self._cell_lut[2]  # the cell coordinate of each 8-bit value
        cube = self._cell_label.reshape(cells, cells, cells)
        lut = cube[lo][:, lo][:, :, lo].astype(np.int8).ravel()
        mixed = np.flatnonzero(lut < 0)
        for start in range(0, len(mixed), 1 << 16):
            code = mixed[start : start + (1 << 16)]
            rgb = np.stack([code >> 16, (code >> 8) & 255, code & 255], axis=1)
            lut[code] = self.probabilities(rgb.astype(np.uint8)).argmax(axis=1)
        return lut

    def name(self, rgb) -> str:
        """The term of one colour, e.g. ``name((255, 105, 180)) == "pink"``."""
        rgb = _as_rgb(rgb)
        if rgb.shape != (3,):
            raise ValueError(f"name() takes one RGB triple, got shape {rgb.shape}")
        return self.terms[int(self.name_pixels(rgb))]

    # ---- per region ------------------------------------------------------------------

    def region_distribution(
        self, rgb, mask=None, weights=None, *, soft: bool = False
    ) -> dict[str, float]:
        """Share of each term over the region ``mask > 0``.

        Args:
            rgb: ``(..., 3)`` uint8 sRGB image.
            mask: ``(...)`` region mask (nonzero = inside); None for every pixel.
            weights: ``(...)`` non-negative per-pixel weights (e.g. a soft alpha); None
                for 1.
            soft: False: weighted fraction of pixels whose most probable term is each
                term; True: weighted mean of the probabilities.

        Returns:
            ``{term: share}`` over ``self.terms``; the shares sum to 1, or are all 0 for
            an empty region (or zero total weight).
        """
        pixels, w = _select(_as_rgb(rgb), mask, weights)
        if soft:
            mass = (self.probabilities(pixels) * w[:, None]).sum(axis=0, dtype=np.float64)
        else:
            mass = np.bincount(self.name_pixels(pixels), w, minlength=len(self.terms))
        total = float(mass.sum())
        shares = mass / total if total > 0 else np.zeros(len(self.terms))
        return {t: float(s) for t, s in zip(self.terms, shares)}

    def region_name(
        self, rgb, mask=None, weights=None, *, min_chromatic_fraction: float = 0.25
    ) -> str | None:
        """The name a person would give the region ``mask > 0``.

        Shading, highlights, windows and lettering put achromatic pixels in any object, so
        a region is named by its most frequent chromatic term when chromatic pixels are at
        least ``min_chromatic_fraction`` of it (brown counts as chromatic), else by its most
        frequent achromatic term (white, gray, black). Ties go to the earlier term.

        Args:
            rgb: ``(..., 3)`` uint8 sRGB image.
            mask: ``(...)`` region mask; None for every pixel.
            weights: ``(...)`` per-pixel weights; None for 1.
            min_chromatic_fraction: share of chromatic pixels for a chromatic name.

        Returns:
            One of ``self.terms``, or None for an empty region.
        """
        dist = self.region_distribution(rgb, mask, weights)
        shares = np.array([dist[t] for t in self.terms])
        if shares.sum() == 0:
            return None
        chromatic = shares[self.chromatic].sum() >= min_chromatic_fraction
        candidates = np.where(self.chromatic == chromatic, shares, -1.0)
        return self.terms[int(np.argmax(candidates))]

    def __repr__(self) -> str:
        return f"ColorNamer(model={self.model!r}, levels={self.levels}, terms={len(self.terms)})"


def _uniform_cell_labels(table: np.ndarray, levels: int) -> np.ndarray:
    """``(cells**3,)`` int16: the term that strictly wins at all 8 corners of a cell, or -1.

    Every interpolated point of such a cell is a convex combination of its corners, so the
    same term wins there too; ``name_pixels`` interpolates only the other cells.
    """
    grid = table.reshape(levels, levels, levels, -1).astype(np.int16)
    top2 = np.sort(grid, axis=-1)[..., -2:]
    winner = np.where(top2[..., 1] > top2[..., 0], grid.argmax(axis=-1), -1).astype(np.int16)
    c = levels - 1
    corners = [winner[a : a + c, b : b + c, d : d + c] for a in (0, 1) for b in (0, 1)
               for d in (0, 1)]
    same = np.all([k == corners[0] for k in corners[1:]], axis=0) & (corners[0] >= 0)
    return np.where(same, corners[0], -1).astype(np.int16).ravel()


def _as_rgb(rgb) -> np.ndarray:
    """``(..., 3)`` uint8 view/copy of ``rgb``; integer arrays must lie in 0..255."""
    arr = np.asarray(rgb)
    if arr.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) RGB, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"expected uint8 RGB (0..255), got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"RGB values out of 0..255: {arr.min()}..{arr.max()}")
    return arr.astype(np.uint8)


def _select(rgb: np.ndarray, mask, weights) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 3)`` pixels of the region and their ``(n,)`` float64 weights."""
    spatial = rgb.shape[:-1]
    inside = np.ones(spatial, bool) if mask is None else np.asarray(mask) > 0
    if inside.shape != spatial:
        raise ValueError(f"mask shape {inside.shape} does not match image {spatial}")
    w = np.ones(spatial) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != spatial:
        raise ValueError(f"weights shape {w.shape} does not match image {spatial}")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return rgb[inside], w[inside]


@functools.lru_cache(maxsize=8)
def load_namer(model: str = "xkcd") -> ColorNamer:
    """The shipped namer ``model`` ("xkcd" or "css"), loaded once per process."""
    if model not in MODELS:
        raise ValueError(f"unknown namer model {model!r}; choose one of {', '.join(MODELS)}")
    with np.load(DATA_PATH, allow_pickle=False) as data:
        return ColorNamer(data[f"{model}_probs"], data["terms"], data["chromatic"], model)


def namer_metadata() -> dict:
    """Sources, licence, grid and per-model k and sample counts stored in the npz."""
    with np.load(DATA_PATH, allow_pickle=False) as data:
        return json.loads(str(data["metadata"]))
