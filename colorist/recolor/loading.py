"""The load step of a bulk run and the codecs that decode and encode its images.

Loading reads an image and rasterises its mask; a failure becomes the item's typed
``Reject`` and is never raised (one bad item must not stop a batch).

A codec is the strategy the bulk pipeline (colorist.recolor.batch) takes for pixels in and
out, chosen by backend kind (``codec_for``):

* ``HostCodec`` (host backends): the load step decodes with OpenCV on the thread pool, and
  each object's variants are encoded on the pool as they are written.
* ``DeviceJpegCodec`` (GPU backends): the load step reads bytes and takes JPEG sizes from
  the frame header; the batch's JPEGs are decoded in one nvJPEG call on the device and its
  variants encoded in one call (``encodes_batches``), so only compressed bytes cross PCIe.
  Without torchvision's GPU codecs the same steps run OpenCV (``DeviceCodec``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from colorist.io.device_codec import DeviceCodec, jpeg_size
from colorist.io.images import (
    MAX_PIXELS,
    check_pixels,
    decode_image,
    encode_image,
    read_image_bytes,
)
from colorist.io.masks import MaskError, mask_from_coco, read_mask_png, require_nonempty
from colorist.recolor.jobs import Job
from colorist.rejects import Reject


@dataclass
class Loaded:
    """A job with its decoded image and mask, or the reason it cannot be recoloured."""

    job: Job
    image: Any = None  # (H, W, 3) uint8: numpy, or a device tensor on the GPU path
    mask: np.ndarray | None = None
    error: Reject | None = None
    data: bytes | None = None  # GPU path: encoded bytes still to decode on the device


def job_reject(job: Job, error: BaseException) -> Reject:
    """The Reject of ``job`` for a raised error (typed errors keep their reason)."""
    return Reject.from_error(error, id=job.id, line=job.line or None, image=str(job.image))


def _job_mask(job: Job, shape: tuple[int, int], max_pixels: int) -> np.ndarray:
    if isinstance(job.mask, (str, bytes)) or hasattr(job.mask, "__fspath__"):
        mask = read_mask_png(job.mask, shape, max_pixels)  # its errors name the file
    else:
        try:
            mask = mask_from_coco(job.mask, shape)
        except MaskError as e:  # name the object: the segmentation has no file name
            raise MaskError(f"{job.id}: {e}", e.reason) from None
    return require_nonempty(mask, f"{job.id}")


def load_job(job: Job, max_pixels: int = MAX_PIXELS) -> Loaded:
    """Decode the image (refused over ``max_pixels``) and rasterise the mask."""
    try:
        image = decode_image(read_image_bytes(job.image), str(job.image), max_pixels)
        return Loaded(job, image, _job_mask(job, image.shape[:2], max_pixels))
    except Exception as e:  # a bad item must never stop the batch
        return Loaded(job, error=job_reject(job, e))


def load_job_for_gpu(job: Job, max_pixels: int = MAX_PIXELS) -> Loaded:
    """GPU path: read the bytes and rasterise the mask; a JPEG's decode waits for the
    device (its size comes from the header), anything else is decoded here."""
    try:
        data = read_image_bytes(job.image)
        check_pixels(data, str(job.image), max_pixels)
        size = jpeg_size(data)
        if size is None:
            image = decode_image(data, str(job.image), max_pixels)
            return Loaded(job, image, _job_mask(job, image.shape[:2], max_pixels))
        return Loaded(job, mask=_job_mask(job, size, max_pixels), data=data)
    except Exception as e:
        return Loaded(job, error=job_reject(job, e))


def decode_on_device(items: list[Loaded], codec: DeviceCodec) -> None:
    """Decode the JPEGs of a batch in one device call; failures become the item's error."""
    todo = [it for it in items if it.error is None and it.image is None]
    decoded = codec.decode([(str(it.job.image), it.data) for it in todo])
    for it, image in zip(todo, decoded):
        it.data = None
        if isinstance(image, Exception):
            it.error = job_reject(it.job, image)
        elif tuple(image.shape[:2]) != it.mask.shape:
            it.error = Reject("image-undecodable", f"{it.job.image}: decoded size "
                              f"{tuple(image.shape[:2])} differs from the JPEG header's "
                              f"{it.mask.shape}", it.job.id, it.job.line or None,
                              str(it.job.image))
        else:
            it.image = image


@dataclass
class HostCodec:
    """OpenCV on the host: ``load`` decodes (on the pool), ``encode`` one object's variants."""

    max_pixels: int = MAX_PIXELS
    encodes_batches = False  # variants are encoded object by object, on the pool

    def load(self, job: Job) -> Loaded:
        return load_job(job, self.max_pixels)

    def decode(self, items: list[Loaded]) -> None:
        """Nothing left to decode: ``load`` did it."""

    def encode(self, images: list, suffix: str, quality: int) -> list[bytes]:
        """``(H, W, 3)`` uint8 RGB arrays as ``suffix`` files."""
        return [encode_image(np.ascontiguousarray(im), suffix, quality) for im in images]


@dataclass
class DeviceJpegCodec:
    """GPU backends: ``load`` reads bytes, ``decode`` and ``encode`` take a whole batch in
    one device call each (nvJPEG where torchvision has it, OpenCV otherwise)."""

    device: Any
    max_pixels: int = MAX_PIXELS
    encodes_batches = True  # one call for every variant of the batch, on the main thread

    def __post_init__(self) -> None:
        self.codec = DeviceCodec(self.device)

    def load(self, job: Job) -> Loaded:
        return load_job_for_gpu(job, self.max_pixels)

    def decode(self, items: list[Loaded]) -> None:
        decode_on_device(items, self.codec)

    def encode(self, images: list, suffix: str, quality: int) -> list[bytes]:
        """``(H, W, 3)`` uint8 tensors (views are fine) as ``suffix`` files."""
        return self.codec.encode(images, suffix, quality)


def codec_for(backend: Any, max_pixels: int = MAX_PIXELS) -> HostCodec | DeviceJpegCodec:
    """The codec of a backend's kind (``colorist.recolor.backends.Backend``)."""
    if backend.on_gpu:
        return DeviceJpegCodec(backend.device(), max_pixels)
    return HostCodec(max_pixels)
