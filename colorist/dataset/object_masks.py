"""The mask step of the dataset build: ``--mask-source coco|grounded-sam|clipseg`` and
``--refine-color``.

With the COCO source and no refinement the recolouring jobs rasterise the COCO polygons
themselves and this step is skipped. Otherwise each object's mask is computed here and
written as ``OUT/masks/{source}[-refined]/{split}/{job id}.png`` (atomic); the recolouring
job then reads that PNG. A rerun reuses the PNGs already written (the folder name keeps
masks of different settings apart), so only the missing ones go through the models.

Objects whose mask cannot be made are rejected with the reason: ``mask-no-confident-box``,
``mask-several-confident-boxes``, ``mask-empty-mask`` (the text-prompted sources),
``refine-color-not-found`` (the stated colour is not in the mask), ``image-or-mask-error``
(unreadable image, bad COCO polygon).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from colorist.io.images import ImageReadError, read_image
from colorist.io.masks import MaskError, mask_from_coco, write_mask_png

MASK_SOURCE_NAMES = ("coco", "grounded-sam", "clipseg")
BATCH = 8


def mask_folder(out: Path, source: str, refine: bool) -> Path:
    return Path(out) / "masks" / (source + ("-refined" if refine else ""))


def _reject(o, reason: str, error: str) -> dict:
    return {"image_id": o.image_id, "category": o.category, "color": o.color,
            "caption": o.caption, "reason": reason, "error": error}


def prepare_masks(objects: list, jobs: list, cfg, source=None):
    """Compute the missing mask PNGs; return ``(objects, jobs, rejected)`` with the jobs
    pointing at their PNGs and the objects without a mask left out.

    ``source``: a ready mask source (tests); by default it is built from
    ``cfg.mask_models`` the first time a model is needed.
    """
    folder = mask_folder(cfg.out, cfg.mask_source, cfg.refine_color)
    paths = [folder / job.extra["split"] / f"{job.id}.png" for job in jobs]
    todo = [k for k, p in enumerate(paths) if not p.is_file()]
    rejected: dict[int, dict] = {}
    if cfg.mask_source != "coco" and todo and source is None:
        source = _build_source(cfg)
    for start in range(0, len(todo), BATCH):
        batch = todo[start:start + BATCH]
        images: dict[int, np.ndarray] = {}
        for k in batch:
            try:
                images[k] = read_image(jobs[k].image)
            except (ImageReadError, FileNotFoundError, OSError) as e:
                rejected[k] = _reject(objects[k], "image-or-mask-error", str(e))
        ready = [k for k in batch if k in images]
        masks = _masks(ready, objects, images, cfg, source, rejected)
        for k in ready:
            mask = masks.get(k)
            if mask is None:
                continue
            if cfg.refine_color:
                from colorist.masks.refine import RefineError, refine_mask

                try:
                    mask = refine_mask(images[k], mask, objects[k].color)
                except RefineError as e:
                    rejected[k] = _reject(objects[k], "refine-color-not-found",
                                          f"{jobs[k].id}: {e}")
                    continue
            write_mask_png(paths[k], mask)
    keep = [k for k in range(len(jobs)) if k not in rejected]
    return ([objects[k] for k in keep], [replace(jobs[k], mask=paths[k]) for k in keep],
            [rejected[k] for k in sorted(rejected)])


def _build_source(cfg):
    from colorist.masks.sources import build_mask_source

    if cfg.mask_models is None:
        raise ValueError(f"--mask-source {cfg.mask_source} needs --mask-models DIR (the "
                         "folder written by python -m colorist.masks export)")
    return build_mask_source(cfg.mask_source, cfg.mask_models, **cfg.mask_options)


def _masks(ready: list[int], objects, images, cfg, source, rejected) -> dict:
    out: dict = {}
    if cfg.mask_source == "coco":
        for k in ready:
            try:
                out[k] = mask_from_coco(objects[k].segmentation, images[k].shape[:2])
            except MaskError as e:
                rejected[k] = _reject(objects[k], "image-or-mask-error", str(e))
        return out
    if not ready:
        return out
    results = source.predict([images[k] for k in ready], [objects[k].category for k in ready])
    for k, result in zip(ready, results):
        if result.mask is None:
            rejected[k] = _reject(objects[k], f"mask-{result.reason}", result.detail)
        else:
            out[k] = result.mask
    return out
