"""Contact sheet of a built dataset: one row per object, its variants with their captions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from colorist.dataset.schema import load_all_groups
from colorist.io.images import read_image, write_image

CELL = 160


def _cell(image: np.ndarray, caption: str) -> np.ndarray:
    h, w = image.shape[:2]
    scale = CELL / max(h, w)
    small = cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale))),
                       interpolation=cv2.INTER_AREA)
    cell = np.full((CELL + 48, CELL, 3), 255, np.uint8)
    cell[: small.shape[0], : small.shape[1]] = small
    for i, line in enumerate(textwrap.wrap(caption, 30)[:3]):
        cv2.putText(cell, line, (2, CELL + 12 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return cell


def dataset_preview(root: Path, out: Path | None = None, max_groups: int = 12) -> Path:
    """Write ``root/preview.png`` (or ``out``): up to ``max_groups`` objects, one a row."""
    groups = sorted(load_all_groups(root), key=lambda g: g.id)[:max_groups]
    if not groups:
        raise FileNotFoundError(f"{Path(root) / 'images'}: no object groups to preview")
    rows = []
    for g in groups:
        cells = [_cell(read_image(p), c) for p, c in zip(g.paths, g.captions)]
        rows.append(np.concatenate(cells, axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)),
                                   constant_values=255) for r in rows])
    out = Path(out) if out else Path(root) / "preview.png"
    write_image(out, sheet)
    return out
