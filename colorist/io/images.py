"""Image decode/encode with OpenCV, always ``(H, W, 3)`` uint8 RGB in memory.

Inputs handled: grayscale (replicated to 3 channels), RGBA / LA (composited over white,
so transparent regions do not turn black), palette PNGs (expanded by the decoder), 16-bit
(rounded to 8 bits) and EXIF-rotated JPEGs (rotated upright, as a viewer shows them).

Untrusted files: only regular files are read (``colorist.io.files``), at most
``MAX_FILE_BYTES``, and an image over ``max_pixels`` is refused from its header before any
pixel is decoded (PNG, JPEG, GIF, BMP and WebP headers are parsed here; other formats are
held by OpenCV's own ``OPENCV_IO_MAX_IMAGE_PIXELS``, set to ``MAX_PIXELS`` unless the
environment sets it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from colorist.io.atomic import atomic_write_bytes
from colorist.io.files import MAX_FILE_BYTES, read_regular_file
from colorist.rejects import RejectError

T = TypeVar("T")
R = TypeVar("R")

MAX_PIXELS = 64 * 2**20  # 8192 x 8192; 192 MiB as RGB
# OpenCV reads this once, at its first decode: the guard for formats without a parser here.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class ImageReadError(RejectError):
    """A missing, unreadable, oversized or corrupt image; the message names the file."""

    reason = "image-undecodable"


def _to_uint8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:  # 65535 -> 255, rounded
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    raise ImageReadError(f"unsupported pixel type {a.dtype}")


def _jpeg_dims(data: bytes) -> tuple[int, int] | None:
    i, n = 2, len(data)
    while i + 9 <= n and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _SOF:
            h, w = data[i + 5:i + 7], data[i + 7:i + 9]
            return int.from_bytes(h, "big"), int.from_bytes(w, "big")
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def _webp_dims(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return (int.from_bytes(data[27:30], "little") + 1,
                int.from_bytes(data[24:27], "little") + 1)
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        return (int.from_bytes(data[28:30], "little") & 0x3FFF,
                int.from_bytes(data[26:28], "little") & 0x3FFF)
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(H, W)`` from the header of a PNG, JPEG, GIF, BMP or WebP file without decoding;
    None for other formats or a header too short to tell."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    if data[:2] == b"\xff\xd8":
        return _jpeg_dims(data)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[8:10], "little"), int.from_bytes(data[6:8], "little")
    if data[:2] == b"BM" and len(data) >= 26:
        return (abs(int.from_bytes(data[22:26], "little", signed=True)),
                abs(int.from_bytes(data[18:22], "little", signed=True)))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_dims(data)
    return None


def check_pixels(data: bytes, name: str, max_pixels: int = MAX_PIXELS,
                 error: type[RejectError] = ImageReadError, what: str = "image") -> None:
    """Refuse an image whose header announces more than ``max_pixels`` pixels.

    Raises:
        error: reason ``{what}-too-large`` (names ``name``, the size and the limit).
    """
    size = image_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise error(f"{name}: {what} is {size[1]}x{size[0]} pixels, over the limit of "
                    f"{max_pixels} (--max-pixels)", f"{what}-too-large")


def imdecode(buf: np.ndarray, flags: int, name: str,
             error: type[RejectError] = ImageReadError, what: str = "image") -> np.ndarray | None:
    """``cv2.imdecode``, with OpenCV's own refusals (its pixel limit) as ``error``."""
    try:
        return cv2.imdecode(buf, flags) if len(buf) else None
    except cv2.error as e:
        too_large = "validateInputImageSize" in str(e) or "pixels" in str(e)
        detail = str(e).strip().splitlines()[-1][:200]
        raise error(f"{name}: OpenCV refused to decode it ({detail})",
                    f"{what}-too-large" if too_large else f"{what}-undecodable") from None


def decode_image(data: bytes, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes to ``(H, W, 3)`` uint8 RGB.

    Args:
        max_pixels: an image whose header announces more pixels is refused undecoded.

    Raises:
        ImageReadError: the bytes are not a decodable image, or too large (names ``name``).
    """
    check_pixels(data, name, max_pixels)
    buf = np.frombuffer(data, dtype=np.uint8)
    # IMREAD_UNCHANGED keeps alpha and 16 bits but ignores EXIF; IMREAD_COLOR|ANYDEPTH
    # applies EXIF orientation. Decode the colour upright, then take alpha when present.
    color = imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH, name)
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
    raw = imdecode(buf, cv2.IMREAD_UNCHANGED, "<alpha>")
    if raw is None or raw.ndim != 3 or raw.shape[2] not in (2, 4):
        return None
    alpha = _to_uint8(raw[..., -1])
    return alpha if alpha.shape == shape else None  # EXIF-rotated images carry no alpha


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS,
               max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    Raises:
        ImageReadError: the file is missing, not a regular file, over ``max_bytes`` or
            ``max_pixels``, unreadable or corrupt (names the path; ``reason`` says which).
    """
    return decode_image(read_image_bytes(path, max_bytes), str(path), max_pixels)


def read_image_bytes(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The encoded bytes of a regular image file of at most ``max_bytes``.

    Raises:
        ImageReadError: the file is missing, not a regular file, too large or unreadable.
    """
    return read_regular_file(path, "image", ImageReadError, max_bytes)


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
