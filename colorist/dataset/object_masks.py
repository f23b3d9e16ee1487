"""The mask step of the dataset build: ``--mask-source coco|grounded-sam|clipseg`` and
``--refine-color``.

With the COCO source and no refinement the recolouring jobs rasterise the COCO polygons
themselves and this step is skipped. Otherwise each object's mask is computed here and
written as ``OUT/masks/{source}[-refined]/{split}/{job id}.png`` (atomic); the recolouring
job then reads that PNG. A rerun reuses the PNGs already written (the folder name keeps
masks of different settings apart), so only the missing ones go through the models.

Objects whose mask cannot be made are rejected with a code of ``colorist.rejects``:
``mask-no-confident-box``, ``mask-several-confident-boxes``, ``mask-empty`` (the
text-prompted sources), ``refine-color-not-found`` (the stated colour is not in the mask),
the ``image-*`` codes (unreadable image) and the ``mask-*`` codes (bad COCO polygon).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from colorist.io.images import ImageReadError, read_image
from colorist.io.masks import MaskError, mask_from_coco, write_mask_png
from colorist.rejects import Reject

MASK_SOURCE_NAMES = ("coco", "grounded-sam", "clipseg")
BATCH = 8


def mask_folder(out: Path, source: str, refine: bool) -> Path:
    return Path(out) / "masks" / (source + ("-refined" if refine else ""))


def _reject(o, job, error: BaseException | None = None, reason: str = "",
            detail: str = "") -> Reject:
    if error is not None:
        return Reject.from_error(error, id=job.id, image=str(job.image), context=o.context())
    return Reject(reason, detail, job.id, image=str(job.image), context=o.context())


def prepare_masks(objects: list, jobs: list, cfg, source=None):
    """Compute the missing mask PNGs; return ``(objects, jobs, rejects)`` with the jobs
    pointing at their PNGs and the objects without a mask left out.

    ``source``: a ready mask source (tests); by default it is built from
    ``cfg.mask_models`` the first time a model is needed.
    """
    folder = mask_folder(cfg.out, cfg.mask_source, cfg.refine_color)
    paths = [folder / job.extra["split"] / f"{job.id}.png" for job in jobs]
    todo = [k for k, p in enumerate(paths) if not p.is_file()]
    rejected: dict[int, Reject] = {}
    if cfg.mask_source != "coco" and todo and source is None:
        source = build_source(cfg)
    for start in range(0, len(todo), BATCH):
        batch = todo[start:start + BATCH]
        images = _read_images(batch, objects, jobs, cfg, rejected)
        masks = _masks(list(images), objects, jobs, images, cfg, source, rejected)
        for k, mask in masks.items():
            if cfg.refine_color:
                mask = _refined(k, images[k], mask, objects, jobs, rejected)
            if mask is not None:
                _write_mask(paths[k], mask, k, objects, jobs, rejected)
    keep = [k for k in range(len(jobs)) if k not in rejected]
    return ([objects[k] for k in keep], [replace(jobs[k], mask=paths[k]) for k in keep],
            [rejected[k] for k in sorted(rejected)])


def _read_images(batch: list[int], objects, jobs, cfg, rejected) -> dict[int, np.ndarray]:
    images: dict[int, np.ndarray] = {}
    for k in batch:
        try:
            images[k] = read_image(jobs[k].image, cfg.max_pixels)
        except ImageReadError as e:
            rejected[k] = _reject(objects[k], jobs[k], e)
    return images


def _refined(k: int, image, mask, objects, jobs, rejected):
    """The mask cut to the object's stated colour, or None (rejected) when it is absent."""
    from colorist.masks.refine import RefineError, refine_mask

    try:
        return refine_mask(image, mask, objects[k].color)
    except RefineError as e:
        rejected[k] = _reject(objects[k], jobs[k], reason=e.reason, detail=f"{jobs[k].id}: {e}")
        return None


def _write_mask(path: Path, mask, k: int, objects, jobs, rejected) -> None:
    try:
        write_mask_png(path, mask)
    except OSError as e:  # disk full: this object waits for a rerun
        rejected[k] = _reject(objects[k], jobs[k], reason="write-failed",
                              detail=f"{jobs[k].id}: mask not written ({e})")


def build_source(cfg):
    """The mask source ``cfg.mask_source`` from ``cfg.mask_models`` (opens its ONNX Runtime
    sessions)."""
    from colorist.masks.sources import build_mask_source

    if cfg.mask_models is None:
        raise ValueError(f"--mask-source {cfg.mask_source} needs --mask-models DIR (the "
                         "folder written by python -m colorist.masks export)")
    try:
        return build_mask_source(cfg.mask_source, cfg.mask_models, **cfg.mask_options)
    except (KeyError, TypeError) as e:  # a manifest entry without a field the source needs
        raise ValueError(f"{cfg.mask_models}: malformed mask model manifest ({e!r}); export "
                         "the models again with python -m colorist.masks export") from None


def _masks(ready: list[int], objects, jobs, images, cfg, source, rejected) -> dict:
    out: dict = {}
    if cfg.mask_source == "coco":
        for k in ready:
            try:
                out[k] = mask_from_coco(objects[k].segmentation, images[k].shape[:2])
            except MaskError as e:
                rejected[k] = _reject(objects[k], jobs[k], e)
        return out
    if not ready:
        return out
    results = source.predict([images[k] for k in ready], [objects[k].category for k in ready])
    for k, result in zip(ready, results):
        if result.mask is None:
            rejected[k] = _reject(objects[k], jobs[k], reason=result.reason,
                                  detail=result.detail)
        else:
            out[k] = result.mask
    return out
