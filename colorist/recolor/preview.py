"""Contact sheets: the original and its variants side by side, each labelled."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from colorist.palette import DEFAULT_PALETTE, Palette


def _thumb(rgb: np.ndarray, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    width = max(1, round(w * height / h))
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_X = 26  # the text starts right of the swatch
LABEL_SCALES = (0.5, 0.45, 0.4, 0.35)  # shrink to fit a narrow tile, then widen the tile


def label_layout(text: str, width: int) -> tuple[float, int]:
    """(font scale, tile width) so that ``text`` fits beside the swatch: the largest scale
    that fits ``width``; when none does, the smallest scale and the width it needs."""
    for scale in LABEL_SCALES:
        needed = TEXT_X + cv2.getTextSize(text, FONT, scale, 1)[0][0] + 4
        if needed <= width:
            return scale, width
    return LABEL_SCALES[-1], needed


def _label(tile: np.ndarray, text: str, swatch: tuple[int, int, int]) -> np.ndarray:
    """``tile`` above a 24-px bar with the colour swatch and ``text`` (never cut: the font
    shrinks, and a tile too narrow even then is widened with white)."""
    scale, width = label_layout(text, tile.shape[1])
    tile = np.pad(tile, ((0, 0), (0, width - tile.shape[1]), (0, 0)), constant_values=255)
    bar = np.full((24, width, 3), 255, dtype=np.uint8)
    cv2.rectangle(bar, (4, 4), (20, 20), tuple(int(c) for c in swatch), thickness=-1)
    cv2.rectangle(bar, (4, 4), (20, 20), (0, 0, 0), thickness=1)
    cv2.putText(bar, text, (TEXT_X, 17), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([tile, bar], axis=0)


def contact_sheet(
    original: np.ndarray,
    variants: Sequence[np.ndarray],
    labels: Sequence[str],
    source: str,
    height: int = 160,
    columns: int = 6,
    palette: Palette = DEFAULT_PALETTE,
) -> np.ndarray:
    """A grid image: the original (labelled "original: <source>") then each variant.

    Args:
        original: ``(H, W, 3)`` uint8 RGB.
        variants: K arrays ``(H, W, 3)`` uint8 RGB.
        labels: K target colour names.

    Returns:
        ``(H', W', 3)`` uint8 RGB.
    """
    tiles = [_label(_thumb(original, height), f"original: {source}", palette[source].rgb)]
    for image, name in zip(variants, labels):
        tiles.append(_label(_thumb(image, height), name, palette[name].rgb))
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0)), constant_values=255)
             for t in tiles]
    blank = np.full_like(tiles[0], 255)
    rows = []
    for r in range(0, len(tiles), columns):
        row = tiles[r : r + columns]
        row += [blank] * (columns - len(row)) if len(tiles) > columns else []
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)
