"""Object masks: PNG files and COCO segmentations (polygons, RLE) -> ``(H, W)`` uint8 0/1.

COCO decoding goes through pycocotools (the reference implementation of COCO's RLE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorist.io.files import MAX_FILE_BYTES, read_regular_file
from colorist.io.images import MAX_PIXELS, check_pixels, imdecode
from colorist.rejects import RejectError

# Polygon vertices may sit this many pixels outside the image (COCO annotations are drawn
# on pixel edges, so x == W happens); further out the annotation belongs to another image.
POLYGON_TOLERANCE = 2.0


class MaskError(RejectError):
    """A missing, malformed, empty or mis-sized mask; the message names the item and
    ``reason`` says which (``mask-*`` codes of ``colorist.rejects.REASONS``)."""

    reason = "mask-malformed"


def mask_to_u8(mask: Any) -> Any:
    """``(H, W)`` bool or real-valued mask -> uint8 0/1: 1 where the value is > 0.

    NaN and negative values are not object (``NaN > 0`` is False). A uint8 mask is returned
    as it is (> 0 and != 0 agree there). numpy in, numpy out; torch in, torch out.

    Raises:
        MaskError: a complex, string or object dtype.
    """
    if type(mask).__module__.startswith("torch"):
        import torch

        if mask.dtype.is_complex:
            raise MaskError(f"mask dtype {mask.dtype} is neither bool nor real")
        return mask.contiguous() if mask.dtype == torch.uint8 else (mask > 0).to(torch.uint8)
    m = np.asarray(mask)
    if m.dtype == np.uint8:
        return np.ascontiguousarray(m)
    if m.dtype != bool and not (np.issubdtype(m.dtype, np.integer)
                                or np.issubdtype(m.dtype, np.floating)):
        raise MaskError(f"mask dtype {m.dtype} is neither bool nor real")
    with np.errstate(invalid="ignore"):
        return np.ascontiguousarray(m > 0, dtype=np.uint8)


def read_mask_png(path: str | Path, shape: tuple[int, int] | None = None,
                  max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """Read a mask image (any pixel > 0 marks the object) as ``(H, W)`` uint8 0/1.

    Args:
        path: PNG (or any OpenCV-readable) regular file; colour masks count any non-zero
            channel.
        shape: the image's ``(H, W)``; a mask of another size raises MaskError.
        max_pixels, max_bytes: larger masks are refused before decoding.
    """
    data = read_regular_file(path, "mask", MaskError, max_bytes)
    check_pixels(data, str(path), max_pixels, MaskError, "mask")
    raw = imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED, str(path), MaskError,
                   "mask")
    if raw is None:
        raise MaskError(f"{path}: not a decodable mask image", "mask-undecodable")
    mask = mask_to_u8(raw.reshape(raw.shape[0], raw.shape[1], -1)).any(axis=2)
    return _check_shape(mask.astype(np.uint8), shape, str(path))


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
                        f"is {shape[1]}x{shape[0]}", "mask-size-mismatch")
    return mask


def _check_polygons(polys: Sequence[Sequence[float]], h: int, w: int) -> list[list[float]]:
    out = []
    for i, poly in enumerate(polys):
        try:
            xy = np.asarray(poly, dtype=np.float64)
        except (TypeError, ValueError):
            raise MaskError(f"polygon {i}: not a list of numbers") from None
        if xy.ndim != 1 or len(xy) < 6 or len(xy) % 2:
            raise MaskError(f"polygon {i}: needs x,y pairs for at least 3 points, got "
                            f"{xy.size} numbers")
        if not np.isfinite(xy).all():
            raise MaskError(f"polygon {i}: has non-finite coordinates")
        x, y = xy[0::2], xy[1::2]
        t = POLYGON_TOLERANCE
        if x.min() < -t or y.min() < -t or x.max() > w + t or y.max() > h + t:
            raise MaskError(
                f"polygon {i}: out of bounds, x in [{x.min():.6g}, {x.max():.6g}], "
                f"y in [{y.min():.6g}, {y.max():.6g}] for a {w}x{h} image", "mask-out-of-bounds"
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


def _ints(values: Any, what: str) -> list[int]:
    """``values`` as a list of non-negative ints (JSON numbers; no bools, no fractions)."""
    if not isinstance(values, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise MaskError(f"RLE {what} must be a list of non-negative integers")
    return values


def _check_rle(rle: Mapping, h: int, w: int) -> dict:
    if "size" not in rle or "counts" not in rle:
        raise MaskError("RLE segmentation needs 'size' and 'counts'")
    size = _ints(rle["size"], "'size'")
    if size != [h, w]:
        raise MaskError(f"RLE size {size} (HxW) does not match the image's [{h}, {w}]",
                        "mask-size-mismatch")
    counts = rle["counts"]
    if isinstance(counts, (str, bytes)):
        # decoded here: pycocotools' C parser reads uninitialised memory on a bad string
        counts = _decode_rle_string(counts)
    if sum(_ints(counts, "'counts'")) != h * w:
        raise MaskError(f"RLE counts sum to {sum(counts)}, not H*W = {h * w}")
    return {"size": size, "counts": counts}


def _decode_rle_string(text: str | bytes) -> list[int]:
    """The run lengths of COCO's compressed RLE string (pycocotools' ``rleFrString``): 5 bits
    a character (offset 48), a continuation bit, sign-extended, deltas from the run two back.

    Raises:
        MaskError: a character outside COCO's alphabet or a number cut short.
    """
    data = text.encode("latin-1", "replace") if isinstance(text, str) else text
    counts: list[int] = []
    x = k = 0
    for byte in data:
        c = byte - 48
        if not 0 <= c < 64:
            raise MaskError("RLE 'counts' string has a character outside COCO's encoding")
        x |= (c & 0x1F) << (5 * k)
        k += 1
        if c & 0x20:
            continue
        if c & 0x10:
            x -= 1 << (5 * k)
        counts.append(x + counts[-2] if len(counts) > 2 else x)
        x = k = 0
    if k:
        raise MaskError("RLE 'counts' string ends inside a number")
    return counts


def require_nonempty(mask: np.ndarray, name: str) -> np.ndarray:
    """Raise MaskError when ``mask`` marks no pixel."""
    if not mask.any():
        raise MaskError(f"{name}: mask is empty (no pixel > 0)", "mask-empty")
    return mask
