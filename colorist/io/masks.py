"""Object masks: PNG files and COCO segmentations (polygons, RLE) -> ``(H, W)`` uint8 0/1.

COCO decoding goes through pycocotools (the reference implementation of COCO's RLE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# Polygon vertices may sit this many pixels outside the image (COCO annotations are drawn
# on pixel edges, so x == W happens); further out the annotation belongs to another image.
POLYGON_TOLERANCE = 2.0


class MaskError(ValueError):
    """A missing, malformed, empty or mis-sized mask; the message names the item."""


def read_mask_png(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask image (any pixel > 0 marks the object) as ``(H, W)`` uint8 0/1.

    Args:
        path: PNG (or any OpenCV-readable) file; colour masks count any non-zero channel.
        shape: the image's ``(H, W)``; a mask of another size raises MaskError.
    """
    path = Path(path)
    if not path.exists():
        raise MaskError(f"{path}: mask file not found")
    raw = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise MaskError(f"{path}: not a decodable mask image")
    mask = (raw.reshape(raw.shape[0], raw.shape[1], -1) > 0).any(axis=2).astype(np.uint8)
    return _check_shape(mask, shape, str(path))


def write_mask_png(path: str | Path, mask: np.ndarray) -> None:
    """Write ``(H, W)`` 0/1 (or bool) as a 0/255 PNG, atomically (``read_mask_png`` reads it)."""
    from colorist.io.atomic import atomic_write_bytes

    ok, png = cv2.imencode(".png", (np.asarray(mask) > 0).astype(np.uint8) * 255)
    if not ok:
        raise MaskError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, png.tobytes())


def _check_shape(mask: np.ndarray, shape: tuple[int, int] | None, name: str) -> np.ndarray:
    if shape is not None and mask.shape != tuple(shape):
        raise MaskError(f"{name}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but the image "
                        f"is {shape[1]}x{shape[0]}")
    return mask


def _check_polygons(polys: Sequence[Sequence[float]], h: int, w: int) -> list[list[float]]:
    out = []
    for i, poly in enumerate(polys):
        xy = np.asarray(poly, dtype=np.float64)
        if xy.ndim != 1 or len(xy) < 6 or len(xy) % 2:
            raise MaskError(f"polygon {i}: needs x,y pairs for at least 3 points, got "
                            f"{len(xy)} numbers")
        if not np.isfinite(xy).all():
            raise MaskError(f"polygon {i}: has non-finite coordinates")
        x, y = xy[0::2], xy[1::2]
        t = POLYGON_TOLERANCE
        if x.min() < -t or y.min() < -t or x.max() > w + t or y.max() > h + t:
            raise MaskError(
                f"polygon {i}: out of bounds, x in [{x.min():.1f}, {x.max():.1f}], "
                f"y in [{y.min():.1f}, {y.max():.1f}] for a {w}x{h} image"
            )
        out.append(xy.tolist())
    return out


def mask_from_coco(segmentation: Any, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a COCO ``segmentation`` for an image of ``shape`` ``(H, W)``.

    Args:
        segmentation: a list of polygons ``[[x0, y0, x1, y1, ...], ...]``, an uncompressed
            RLE ``{"size": [H, W], "counts": [..]}`` or a compressed one (``counts`` str).

    Returns:
        ``(H, W)`` uint8 0/1.

    Raises:
        MaskError: malformed segmentation, polygon out of bounds, RLE of another size.
    """
    from pycocotools import mask as mask_utils

    h, w = int(shape[0]), int(shape[1])
    if isinstance(segmentation, Mapping):
        rle = _check_rle(segmentation, h, w)
        if isinstance(rle["counts"], list):
            rle = mask_utils.frPyObjects(rle, h, w)
        decoded = mask_utils.decode(rle)
    elif isinstance(segmentation, Sequence) and not isinstance(segmentation, (str, bytes)):
        if len(segmentation) == 0:
            raise MaskError("segmentation has no polygons")
        polys = _check_polygons(segmentation, h, w)
        decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, h, w)))
    else:
        raise MaskError(f"segmentation must be polygons or RLE, got {type(segmentation).__name__}")
    return np.ascontiguousarray(decoded.reshape(h, w) > 0, dtype=np.uint8)


def _check_rle(rle: Mapping, h: int, w: int) -> dict:
    if "size" not in rle or "counts" not in rle:
        raise MaskError("RLE segmentation needs 'size' and 'counts'")
    size = [int(v) for v in rle["size"]]
    if size != [h, w]:
        raise MaskError(f"RLE size {size} (HxW) does not match the image's [{h}, {w}]")
    counts = rle["counts"]
    if isinstance(counts, list):
        if sum(int(c) for c in counts) != h * w:
            raise MaskError(f"RLE counts sum to {sum(counts)}, not H*W = {h * w}")
        return {"size": size, "counts": [int(c) for c in counts]}
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    if not isinstance(counts, bytes):
        raise MaskError("RLE 'counts' must be a list of ints or a compressed string")
    return {"size": size, "counts": counts}


def require_nonempty(mask: np.ndarray, name: str) -> np.ndarray:
    """Raise MaskError when ``mask`` marks no pixel."""
    if not mask.any():
        raise MaskError(f"{name}: mask is empty (no pixel > 0)")
    return mask
