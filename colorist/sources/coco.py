"""MSCOCO ``captions_*.json`` + ``instances_*.json`` (polygons, RLE, iscrowd)."""

from __future__ import annotations

from pathlib import Path

from colorist.sources.records import ImageRecord, Instance, SourceError, read_json, require


def load_coco(captions_path: str | Path,
              instances_path: str | Path) -> tuple[list[ImageRecord], list[str]]:
    """Images (sorted by id) with their captions and instances, and the category names.

    Raises:
        SourceError: a missing file, malformed JSON, or a record without a required field
            (the message names the file and the record).
    """
    captions_path, instances_path = Path(captions_path), Path(instances_path)
    caps, inst = read_json(captions_path), read_json(instances_path)
    categories = {require(c, "id", instances_path, "category"):
                  str(require(c, "name", instances_path, "category"))
                  for c in require(inst, "categories", instances_path, "instances file")}
    images: dict = {}
    for im in require(inst, "images", instances_path, "instances file"):
        image_id = require(im, "id", instances_path, "image")
        images[image_id] = ImageRecord(
            image_id, str(require(im, "file_name", instances_path, "image")),
            int(require(im, "height", instances_path, "image")),
            int(require(im, "width", instances_path, "image")))
    for ann in require(inst, "annotations", instances_path, "instances file"):
        image_id = require(ann, "image_id", instances_path, "annotation")
        cat = require(ann, "category_id", instances_path, "annotation")
        if image_id not in images or cat not in categories:
            raise SourceError(f"{instances_path}: annotation {ann.get('id')} refers to an "
                              f"unknown image {image_id} or category {cat}")
        images[image_id].instances.append(Instance(
            require(ann, "id", instances_path, "annotation"), categories[cat],
            require(ann, "segmentation", instances_path, "annotation"),
            bool(ann.get("iscrowd", 0))))
    for ann in require(caps, "annotations", captions_path, "captions file"):
        image_id = require(ann, "image_id", captions_path, "caption")
        if image_id in images:  # captions of images without instances cannot be used
            images[image_id].captions.append(
                (require(ann, "id", captions_path, "caption"),
                 str(require(ann, "caption", captions_path, "caption")).strip()))
    records = [images[k] for k in sorted(images)]
    for r in records:
        r.captions.sort(key=lambda c: c[0])
    return records, list(categories.values())
