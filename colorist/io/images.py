"""Image decode/encode with OpenCV, always ``(H, W, 3)`` uint8 RGB in memory.

Inputs handled: grayscale (replicated to 3 channels), RGBA / LA (composited over white,
so transparent regions do not turn black), palette PNGs (expanded by the decoder), 16-bit
(rounded to 8 bits) and EXIF-rotated JPEGs (rotated upright, as a viewer shows them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from colorist.io.atomic import atomic_write_bytes

T = TypeVar("T")
R = TypeVar("R")


class ImageReadError(ValueError):
    """A missing, unreadable or corrupt image; the message names the file."""


def _to_uint8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:  # 65535 -> 255, rounded
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    raise ImageReadError(f"unsupported pixel type {a.dtype}")




def decode_image(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to ``(H, W, 3)`` uint8 RGB.

    Raises:
        ImageReadError: the bytes are not a decodable image (names ``name``).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    # IMREAD_UNCHANGED keeps alpha and 16 bits but ignores EXIF; IMREAD_COLOR|ANYDEPTH
    # applies EXIF orientation. Decode the colour upright, then take alpha when present.
    color = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH) if len(buf) else None
    if color is None:
        raise ImageReadError(f"{name}: not a decodable image (corrupt or unsupported format)")
    rgb = cv2.cvtColor(_to_uint8(color), cv2.COLOR_BGR2RGB)
    alpha = _alpha_channel(buf, color.shape[:2])
    if alpha is not None:
        a = alpha[..., None].astype(np.float32) / 255.0
        rgb = np.rint(rgb * a + 255.0 * (1.0 - a)).astype(np.uint8)
    return rgb


def _alpha_channel(buf: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """The 8-bit alpha of an image that has one (PNG, WebP, TIFF), else None."""
    if buf[:3].tobytes() == b"\xff\xd8\xff":
        return None  # JPEG: never alpha, skip the second decode
    raw = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if raw is None or raw.ndim != 3 or raw.shape[2] not in (2, 4):
        return None
    alpha = _to_uint8(raw[..., -1])
    return alpha if alpha.shape == shape else None  # EXIF-rotated images carry no alpha


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    Raises:
        ImageReadError: the file is missing, unreadable or corrupt (names the path).
    """
    return decode_image(read_image_bytes(path), str(path))


def read_image_bytes(path: str | Path) -> bytes:
    """The encoded bytes of an image file.

    Raises:
        ImageReadError: the file is missing or unreadable (names the path).
    """
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: image file not found") from None
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read image ({e.strerror})") from None


def encode_image(rgb: np.ndarray, suffix: str = ".jpg", quality: int = 95) -> bytes:
    """Encode ``(H, W, 3)`` uint8 RGB as JPEG (``quality``) or PNG (lossless)."""
    suffix = suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    else:
        params = []
    ok, buf = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image as {suffix}")
    return buf.tobytes()


def write_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> None:
    """Atomically write ``(H, W, 3)`` uint8 RGB; the format follows the suffix."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(rgb, path.suffix, quality))


def map_threaded(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` on a thread pool (OpenCV releases the GIL while it decodes and
    encodes), in order, with at most ``2 * workers`` items in flight."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending = []
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()
