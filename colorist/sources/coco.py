"""MSCOCO ``captions_*.json`` + ``instances_*.json`` (polygons, RLE, iscrowd)."""

from __future__ import annotations

from pathlib import Path

from colorist.sources.records import ImageRecord, Instance, SourceError, read_json, require


def load_coco(captions_path: str | Path, instances_path: str | Path,
              problems: list[dict] | None = None) -> tuple[list[ImageRecord], list[str]]:
    """Images (sorted by id) with their captions and instances, and the category names.

    Args:
        problems: when given, an annotation that refers to an unknown image or category is
            skipped and recorded here (``{"source", "annotation_id", "image_id", "reason":
            "unknown-image" | "unknown-category", "error"}``) instead of failing the load.

    Raises:
        SourceError: a missing file, malformed JSON, or a record without a required field
            (the message names the file and the record); an annotation for an unknown image
            or category when ``problems`` is None.
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
            what = "image" if image_id not in images else "category"
            error = (f"{instances_path}: annotation {ann.get('id')} refers to an unknown "
                     f"{what} ({image_id if what == 'image' else cat})")
            if problems is None:
                raise SourceError(error)
            problems.append({"source": str(instances_path), "annotation_id": ann.get("id"),
                             "image_id": image_id, "reason": f"unknown-{what}",
                             "error": error})
            continue
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
