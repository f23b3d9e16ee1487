"""Synthetic colour scenes: images whose colours follow from their grey structure, for smoke
runs and learning checks of the colouriser without a photo collection.

    python -c "from colorist.colorize.synthetic import write_scenes; write_scenes('scenes')"

A scene: a sky (smooth vertical gradient, blue) over a ground (noisy texture, green), a sun
(bright disk, yellow) in the sky, and a few trunks (dark vertical bars, brown) standing on
the ground. Horizon height, sizes, positions, shades and noise vary per image.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from colorist.io.images import write_image

SKY, GROUND, SUN, TRUNK = (90, 150, 230), (60, 140, 50), (250, 220, 40), (110, 70, 35)


def scene(rng: np.random.Generator, h: int = 96, w: int = 128) -> np.ndarray:
    """One ``(h, w, 3)`` uint8 scene (see the module docstring)."""
    img = np.empty((h, w, 3), np.float64)
    horizon = int(rng.integers(h // 3, 2 * h // 3))
    ramp = np.linspace(1.15, 0.85, horizon)[:, None, None]
    img[:horizon] = np.array(SKY) * ramp * rng.uniform(0.9, 1.05)
    noise = rng.normal(0, 18, (h - horizon, w, 1))
    img[horizon:] = np.array(GROUND) * rng.uniform(0.8, 1.1) + noise
    r = int(rng.integers(h // 12, h // 6))
    cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, max(r + 1, horizon - r)))
    cv2.circle(img, (cx, cy), r, SUN, -1)
    for _ in range(int(rng.integers(1, 4))):
        x, tw = int(rng.integers(0, w - 4)), int(rng.integers(3, max(4, w // 16)))
        top = int(rng.integers(h // 6, horizon + 1))
        bottom = int(rng.integers(horizon, h))
        img[top:bottom, x : x + tw] = np.array(TRUNK) * rng.uniform(0.8, 1.2)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_scenes(out: str | Path, n: int = 200, h: int = 96, w: int = 128,
                 seed: int = 0) -> list[Path]:
    """``n`` scenes as ``out/scene_00000.png`` ... (atomic writes); returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = out / f"scene_{i:05d}.png"
        write_image(path, scene(rng, h, w))
        paths.append(path)
    return paths
