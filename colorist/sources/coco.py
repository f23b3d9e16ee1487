"""MSCOCO ``captions_*.json`` + ``instances_*.json`` (polygons, RLE, iscrowd)."""

from __future__ import annotations

from pathlib import Path

from colorist.sources.records import (
    ImageRecord,
    Instance,
    Problems,
    SourceError,
    check_caption,
    id_order,
    read_json,
    require,
    require_id,
    require_list,
    require_side,
    require_str,
)


def load_coco(captions_path: str | Path, instances_path: str | Path,
              problems: list | None = None) -> tuple[list[ImageRecord], list[str]]:
    """Images (sorted by id: integers, then strings) with their captions and instances, and
    the category names.

    Args:
        problems: when given, a bad record (a missing or wrongly typed field, a duplicate
            image id, an annotation for an unknown image or category) is skipped and kept
            here as a ``colorist.rejects.Reject`` (reasons ``malformed-record``,
            ``duplicate-id``, ``unknown-image``, ``unknown-category``) instead of failing
            the load.

    Raises:
        SourceError: a missing file, malformed JSON, a file without its lists; a bad record
            when ``problems`` is None (the message names the file and the record).
    """
    captions_path, instances_path = Path(captions_path), Path(instances_path)
    caps, inst = read_json(captions_path), read_json(instances_path)
    report = Problems(problems, instances_path)
    categories = _categories(inst, instances_path, report)
    images = _images(inst, instances_path, report)
    _annotations(inst, instances_path, images, categories, report)
    _captions(caps, captions_path, images, Problems(problems, captions_path))
    records = [images[k] for k in sorted(images, key=id_order)]
    for r in records:
        r.captions.sort(key=lambda c: id_order(c[0]))
    return records, list(dict.fromkeys(categories.values()))


def _categories(inst, path: Path, report: Problems) -> dict:
    categories = {}
    for c in require_list(inst, "categories", path, "instances file"):
        try:
            categories[require_id(c, "id", path, "category")] = require_str(
                c, "name", path, "category")
        except SourceError as e:
            report(e, category=str(c)[:80])
    return categories


def _images(inst, path: Path, report: Problems) -> dict:
    images: dict = {}
    for im in require_list(inst, "images", path, "instances file"):
        try:
            image_id = require_id(im, "id", path, "image")
            what = f"image {image_id}"
            record = ImageRecord(image_id, require_str(im, "file_name", path, what),
                                 require_side(im, "height", path, what),
                                 require_side(im, "width", path, what))
            if image_id in images:
                raise SourceError(f"{path}: image id {image_id!r} appears twice; the second "
                                  "is skipped", "duplicate-id")
        except SourceError as e:
            report(e, image_id=im.get("id") if isinstance(im, dict) else None)
            continue
        images[image_id] = record
    return images


def _annotations(inst, path: Path, images: dict, categories: dict, report: Problems) -> None:
    for ann in require_list(inst, "annotations", path, "instances file"):
        ann_id = ann.get("id") if isinstance(ann, dict) else None
        try:
            image_id = require_id(ann, "image_id", path, f"annotation {ann_id}")
            cat = require_id(ann, "category_id", path, f"annotation {ann_id}")
            if image_id not in images or cat not in categories:
                what = "image" if image_id not in images else "category"
                raise SourceError(f"{path}: annotation {ann_id} refers to an unknown {what} "
                                  f"({image_id if what == 'image' else cat})", f"unknown-{what}")
            instance = Instance(require_id(ann, "id", path, "annotation"), categories[cat],
                                require(ann, "segmentation", path, f"annotation {ann_id}"),
                                bool(ann.get("iscrowd", 0)))
        except SourceError as e:
            report(e, annotation_id=ann_id if isinstance(ann_id, (int, str)) else None,
                   image_id=ann.get("image_id") if isinstance(ann, dict) else None)
            continue
        images[image_id].instances.append(instance)


def _captions(caps, path: Path, images: dict, report: Problems) -> None:
    for ann in require_list(caps, "annotations", path, "captions file"):
        try:
            image_id = require_id(ann, "image_id", path, "caption")
            if image_id in images:  # captions of images without instances cannot be used
                images[image_id].captions.append(
                    (require_id(ann, "id", path, "caption"),
                     check_caption(require(ann, "caption", path, "caption"), path, "caption")))
        except SourceError as e:
            report(e, caption_id=ann.get("id") if isinstance(ann, dict) else None)
