"""Synthetic shapes in the standard format: a source the builder turns into colour groups
without COCO (tests, smoke runs, learning checks).

    python -c "from colorist.dataset.synthetic import write_shapes; write_shapes('shapes')"
    python -m colorist.dataset build --standard shapes/shapes.json --images shapes/images ...

Each image holds one shape (square, circle or triangle) in one palette colour on a grey
background, with the caption "A {color} {shape} on a plain background." and the shape's
polygon as its mask.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np

from colorist.io.atomic import atomic_write_text
from colorist.io.images import write_image
from colorist.io.masks import mask_from_coco
from colorist.palette import DEFAULT_PALETTE

SHAPES = ("square", "circle", "triangle")
COLORS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")


def _polygon(shape: str, cx: float, cy: float, r: float) -> np.ndarray:
    if shape == "square":
        pts = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    elif shape == "triangle":
        pts = [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    else:
        a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        pts = list(zip(cx + r * np.cos(a), cy + r * np.sin(a)))
    return np.round(np.array(pts, dtype=np.float64), 1)


def _rgb(color: str, rng: random.Random) -> tuple[int, int, int]:
    arc = DEFAULT_PALETTE[color].target_hue  # OpenCV hue units, may wrap (red)
    hue = (arc.lo + arc.width * rng.uniform(0.2, 0.8)) % 180
    hsv = np.array([[[hue, rng.randint(170, 255), rng.randint(170, 255)]]], np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def write_shapes(out: str | Path, n: int = 64, size: int = 64, seed: int = 0,
                 colors: tuple[str, ...] = COLORS) -> Path:
    """Write ``out/images/*.png`` and ``out/shapes.json`` (standard format); returns the JSON
    path. Deterministic in ``seed``."""
    rng = random.Random(seed)
    out = Path(out)
    records = []
    for i in range(n):
        shape, color = rng.choice(SHAPES), colors[i % len(colors)]
        grey = rng.randint(60, 200)
        image = np.full((size, size, 3), grey, np.uint8)
        r = rng.uniform(0.22, 0.32) * size
        cx, cy = (rng.uniform(r + 1, size - r - 1) for _ in range(2))
        poly = _polygon(shape, cx, cy, r)
        # painted through the mask's own rasteriser (pycocotools): cv2.fillPoly of rounded
        # vertices also fills the right and bottom edge pixels, a 1-px rim of the shape's
        # colour that the COCO mask leaves out and no recolour can reach
        image[mask_from_coco([poly.ravel().tolist()], (size, size)) > 0] = _rgb(color, rng)
        name = f"{i:05d}.png"
        write_image(out / "images" / name, image)
        records.append({"image_id": i, "file_name": name, "height": size, "width": size,
                        "captions": [f"A {color} {shape} on a plain background."],
                        "entities": {shape: [[poly.ravel().tolist()]]}})
    path = out / "shapes.json"
    atomic_write_text(path, json.dumps(records))
    return path
