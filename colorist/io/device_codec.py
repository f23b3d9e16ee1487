"""Image decode/encode for the GPU bulk path: nvJPEG through torchvision.io on the GPU,
OpenCV on the CPU otherwise, same interface either way.

On a GPU, baseline JPEGs are decoded in one batched ``decode_jpeg(..., device="cuda")``
call and variants are encoded in one batched ``encode_jpeg`` call on the device, so
pixels cross PCIe only as compressed bytes. Files the GPU decoder does not take (PNG, EXIF
orientation to apply, CMYK, anything it rejects) are decoded by ``decode_image`` on the
CPU and uploaded, so every file decodes as it would in the CPU path (nvJPEG's IDCT may
differ from libjpeg's by a level or two on some pixels).

torchvision's nvJPEG calls run on a private stream that does not wait for the caller's
(torchvision pull request 9606): its outputs are allocated on the caller's stream, where
the caching allocator may hand out a block that queued kernels still read, and nvJPEG
overwrites it before they run; the encoder may read images our kernels are still
writing. So the caller's stream is drained before each nvJPEG call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from colorist.io.images import ImageReadError, decode_image, encode_image

_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(H, W)`` from a JPEG's frame header without decoding, or None when ``data`` is not
    a JPEG the GPU path should take (not a JPEG, EXIF data to apply, not 1 or 3 channels).
    """
    if data[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xE1 and data[i + 4 : i + 8] == b"Exif":
            return None  # may carry an orientation: the CPU decoder applies it
        if marker in _SOF_MARKERS and i + 10 <= n:
            h = int.from_bytes(data[i + 5 : i + 7], "big")
            w = int.from_bytes(data[i + 7 : i + 9], "big")
            channels = data[i + 9]
            return (h, w) if h and w and channels in (1, 3) else None
        i += 2 + length
    return None


@cache
def torchvision_io() -> Any | None:
    """torchvision.io when it imports with GPU JPEG support, else None."""
    try:
        import torchvision.io as tio
    except Exception:  # not installed, or built for another torch
        return None
    return tio if hasattr(tio, "decode_jpeg") and hasattr(tio, "encode_jpeg") else None


def wait_for_current_stream(device) -> None:
    """Block until the work queued on ``device``'s current CUDA stream has run."""
    import torch

    torch.cuda.current_stream(device).synchronize()


@dataclass
class DeviceCodec:
    """Decode to / encode from ``(H, W, 3)`` uint8 torch tensors on ``device``."""

    device: Any

    @property
    def uses_nvjpeg(self) -> bool:
        return str(self.device).startswith("cuda") and torchvision_io() is not None

    def decode(self, blobs: list[tuple[str, bytes]]) -> list[Any]:
        """One tensor per ``(name, bytes)``, or an ``ImageReadError`` in its place."""
        out: list[Any] = [None] * len(blobs)
        gpu = [i for i, (_, data) in enumerate(blobs) if self.uses_nvjpeg and jpeg_size(data)]
        if gpu:
            self._decode_nvjpeg(blobs, gpu, out)
        for i, (name, data) in enumerate(blobs):
            if out[i] is None:
                out[i] = self._decode_cpu(name, data)
        return out

    def _decode_nvjpeg(self, blobs, idx: list[int], out: list) -> None:
        import torch

        tio = torchvision_io()
        data = [torch.frombuffer(bytearray(blobs[i][1]), dtype=torch.uint8) for i in idx]
        wait_for_current_stream(self.device)  # see the module docstring
        try:
            images = tio.decode_jpeg(data, mode=tio.ImageReadMode.RGB, device=self.device)
        except RuntimeError:
            return  # one bad file fails the batched call: decode these on the CPU instead
        for i, chw in zip(idx, images):
            out[i] = chw.permute(1, 2, 0).contiguous()

    def _decode_cpu(self, name: str, data: bytes) -> Any:
        import torch

        try:
            return torch.from_numpy(decode_image(data, name)).to(self.device)
        except ImageReadError as e:
            return e

    def encode(self, images: list[Any], suffix: str, quality: int) -> list[bytes]:
        """Encode ``(H, W, 3)`` uint8 tensors (views are fine) as ``suffix`` files."""
        if self.uses_nvjpeg and suffix.lower() in (".jpg", ".jpeg") and images:
            tio = torchvision_io()
            chw = [im.permute(2, 0, 1).contiguous() for im in images]
            wait_for_current_stream(self.device)  # the images are written on this stream
            return [bytes(b.cpu().numpy()) for b in tio.encode_jpeg(chw, quality=quality)]
        return [encode_image(np.ascontiguousarray(im.cpu().numpy()), suffix, quality)
                for im in images]
