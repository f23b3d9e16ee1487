"""The load step of a bulk run: read an image and rasterise its mask; a failure becomes
the item's typed ``Reject`` and is never raised (one bad item must not stop a batch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from colorist.io.device_codec import jpeg_size
from colorist.io.images import MAX_PIXELS, check_pixels, decode_image, read_image_bytes
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
