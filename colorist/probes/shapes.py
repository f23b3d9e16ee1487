"""Shapes of probe stimuli: unit polygons, posed (rotation, scale, position) and painted.

Every shape is a polygon inscribed in the unit circle, so a shape of radius ``r`` centred at
least ``r + 1`` pixels from every edge lies inside the image whatever its rotation. Shapes
are painted through the COCO rasteriser (``colorist.io.mask_from_coco``, pycocotools), the
same one that turns the polygon back into a mask in the dataset builder: the painted pixels
and the mask agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from colorist.io.masks import mask_from_coco


def _regular(n: int, phase: float = -np.pi / 2) -> np.ndarray:
    a = phase + np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    outer = _regular(2 * points)
    return outer * np.where(np.arange(2 * points) % 2, inner, 1.0)[:, None]


def _cross(arm: float = 0.35) -> np.ndarray:
    # a plus sign whose outer corners touch the unit circle
    e = float(np.sqrt(1 - arm**2))
    a = arm
    return np.array([(-a, -e), (a, -e), (a, -a), (e, -a), (e, a), (a, a), (a, e), (-a, e),
                     (-a, a), (-e, a), (-e, -a), (-a, -a)])


# name -> unit polygon builder ((K, 2) float64 vertices, all within the unit circle)
SHAPES: dict[str, Callable[[], np.ndarray]] = {
    "circle": lambda: _regular(48),
    "square": lambda: _regular(4, np.pi / 4),
    "triangle": lambda: _regular(3),
    "hexagon": lambda: _regular(6),
    "star": _star,
    "cross": _cross,
}


def shape_polygon(shape: str, center: tuple[float, float], radius: float,
                  angle: float) -> np.ndarray:
    """The ``(K, 2)`` float64 ``(x, y)`` vertices of ``shape`` posed in pixel coordinates.

    Args:
        shape: a key of ``SHAPES``.
        center: ``(x, y)`` in pixels.
        radius: circumradius in pixels.
        angle: rotation in degrees (counter-clockwise on screen).
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
    t = np.deg2rad(angle)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])  # y points down
    return np.round(SHAPES[shape]() @ rot.T * radius + np.asarray(center, float), 2)


def polygon_mask(polygon: np.ndarray, size: int) -> np.ndarray:
    """``(size, size)`` uint8 0/1 mask of a ``(K, 2)`` polygon (COCO rasterisation)."""
    return mask_from_coco([polygon.ravel().tolist()], (size, size))
