"""Contact sheet of a built dataset: one row per object, its variants with their captions."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from colorist.dataset.schema import load_all_groups
from colorist.io.images import read_image, write_image

CELL = 160
FONT, SCALE, LINE = cv2.FONT_HERSHEY_SIMPLEX, 0.33, 14


def _width(text: str) -> int:
    return cv2.getTextSize(text, FONT, SCALE, 1)[0][0]


def wrap_to_width(text: str, width: int) -> list[str]:
    """``text`` in lines that are each at most ``width`` pixels wide when drawn (words wider
    than a line are split); every character is kept."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while _width(word) > width:  # split a word wider than the cell
            n = max([i for i in range(1, len(word)) if _width(word[:i]) <= width] or [1])
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:n])
            word = word[n:]
        candidate = f"{line} {word}" if line else word
        if _width(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def _cell(image: np.ndarray, caption: str) -> np.ndarray:
    """The image scaled into CELL x CELL, the whole caption wrapped under it (the cell
    grows downwards as needed)."""
    h, w = image.shape[:2]
    scale = CELL / max(h, w)
    small = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))),
                       interpolation=cv2.INTER_AREA)
    lines = wrap_to_width(caption, CELL - 4)
    cell = np.full((CELL + 8 + LINE * max(len(lines), 1), CELL, 3), 255, np.uint8)
    cell[: small.shape[0], : small.shape[1]] = small
    for i, line in enumerate(lines):
        cv2.putText(cell, line, (2, CELL + 12 + LINE * i), FONT, SCALE, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return cell


def _row(cells: list[np.ndarray]) -> np.ndarray:
    height = max(c.shape[0] for c in cells)
    return np.concatenate([np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)),
                                  constant_values=255) for c in cells], axis=1)


def dataset_preview(root: Path, out: Path | None = None, max_groups: int = 12) -> Path:
    """Write ``root/preview.png`` (or ``out``): up to ``max_groups`` objects, one a row."""
    groups = sorted(load_all_groups(root), key=lambda g: g.id)[:max_groups]
    if not groups:
        raise FileNotFoundError(f"{Path(root) / 'images'}: no object groups to preview")
    rows = []
    for g in groups:
        cells = [_cell(read_image(p), c) for p, c in zip(g.paths, g.captions)]
        rows.append(_row(cells))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)),
                                   constant_values=255) for r in rows])
    out = Path(out) if out else Path(root) / "preview.png"
    write_image(out, sheet)
    return out
