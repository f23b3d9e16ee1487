"""Quantised ab space: the classes the colouriser predicts (Zhang, Isola, Efros 2016, sec. 2.1).

The ab plane is cut into square cells of side ``grid`` (10 in the paper) centred on the
multiples of ``grid``; a cell is a class when some sRGB colour falls in it. The sRGB colours
are the 8-bit colours on the surface of the RGB cube: every vertical (constant-ab) line
through the Lab image of the cube meets its surface, so the surface's ab set is the whole
gamut's, at a 16.7M / 393k lower cost. The Lab conversion is the project's one numpy Lab
(colorist/recolor/reference.py: D65 white, sRGB curve, the constants of pixel_math.h).

Count: 261 cells for grid 10 (a in [-90, 100], b in [-110, 90]), where the paper keeps 313
(its released ``pts_in_hull.npy``, whose derivation was not published: it holds more cells
than any sRGB colour reaches here, the convex hull of the gamut's ab set included, 269
cells). Official weights carry their own 313 centres (their ``model_out`` layer), which
``colorist.colorize.weights.load_official`` reads and uses.
"""

from __future__ import annotations

import functools

import numpy as np

from colorist.recolor.reference import rgb_to_lab

GRID = 10
AB_RANGE = 110.0  # |a|, |b| of sRGB colours stay below it; also the network's ab scale


def rgb_cube_surface(levels: int = 256) -> np.ndarray:
    """``(6 * levels**2, 3)`` uint8 RGB colours on the faces of the RGB cube (some repeated)."""
    v = np.round(np.linspace(0, 255, levels)).astype(np.uint8)
    u, w = (x.ravel() for x in np.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for end in (0, 255):
            face = np.empty((u.size, 3), np.uint8)
            face[:, axis] = end
            face[:, [i for i in range(3) if i != axis]] = np.stack([u, w], -1)
            faces.append(face)
    return np.concatenate(faces)


@functools.lru_cache(maxsize=1)
def _surface_ab() -> np.ndarray:
    return rgb_to_lab(rgb_cube_surface())[:, 1:]


@functools.lru_cache(maxsize=8)
def _gamut_bins(grid: int) -> np.ndarray:
    ab = _surface_ab()
    cells = np.unique(np.round(ab / grid).astype(np.int64), axis=0)  # sorted by (a, b)
    out = (cells * grid).astype(np.float32)
    out.setflags(write=False)
    return out


def gamut_bins(grid: int = GRID) -> np.ndarray:
    """``(Q, 2)`` float32 ab centres of the in-gamut cells, sorted by a then b (read-only).

    Args:
        grid: cell side in ab units (> 0).
    """
    if not (isinstance(grid, int | np.integer) and grid > 0):
        raise ValueError(f"grid must be a positive integer, got {grid!r}")
    return _gamut_bins(int(grid))


def nearest_bins(ab: np.ndarray, bins: np.ndarray, k: int, chunk: int = 4096
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest bin centres of each ab point, nearest first (ties among the k: the
    lower index first; which of several bins tied at the k-th place is kept is unspecified).

    Args:
        ab: ``(N, 2)`` ab values.
        bins: ``(Q, 2)`` centres, ``k <= Q``.
        chunk: points per block of the ``(chunk, Q)`` distance table (bounds memory).

    Returns:
        ``(N, k)`` int64 indices by increasing distance and their ``(N, k)`` float64 squared
        distances.
    """
    if not 1 <= k <= len(bins):
        raise ValueError(f"k={k} nearest bins asked of {len(bins)} bins")
    ab = np.asarray(ab, np.float64).reshape(-1, 2)
    bins = np.asarray(bins, np.float64)
    idx = np.empty((len(ab), k), np.int64)
    dist = np.empty((len(ab), k), np.float64)
    for s in range(0, len(ab), chunk):
        x = ab[s : s + chunk]
        d2 = (x[:, :1] - bins[:, 0]) ** 2 + (x[:, 1:] - bins[:, 1]) ** 2  # (chunk, Q)
        if k < len(bins):  # the k smallest first (O(Q)), then only they are sorted
            i = np.sort(np.argpartition(d2, k - 1, axis=1)[:, :k], axis=1)
        else:
            i = np.broadcast_to(np.arange(k), d2.shape).copy()
        order = np.argsort(np.take_along_axis(d2, i, 1), axis=1, kind="stable")
        i = np.take_along_axis(i, order, 1)
        idx[s : s + chunk], dist[s : s + chunk] = i, np.take_along_axis(d2, i, 1)
    return idx, dist
