"""The thesis' standard format: one JSON list (or JSONL) of images::

    {"image_id": 42, "file_name": "42.jpg", "height": 480, "width": 640,
     "captions": ["a red bus ...", ...],
     "entities": {"bus": [[[x0, y0, x1, y1, ...]], ...], ...}}

``entities`` maps a category to its instances, each a list of polygons (COCO polygon
format). ``file_name`` defaults to ``{image_id}.jpg``. Caption ids are
``{image_id}:{index}``; annotation ids ``{image_id}:{category}:{index}``.
"""

from __future__ import annotations

import json
from pathlib import Path

from colorist.sources.records import ImageRecord, Instance, SourceError, read_json, require


def _read_records(path: Path) -> list:
    if path.suffix == ".jsonl":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise SourceError(f"{path}: annotation file not found") from None
        out = []
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise SourceError(f"{path}: line {n}: malformed JSON ({e.msg})") from None
        return out
    data = read_json(path)
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of images, got {type(data).__name__}")
    return data


def load_standard(path: str | Path,
                  problems: list[dict] | None = None) -> tuple[list[ImageRecord], list[str]]:
    """Images and the category names found in a standard-format file.

    Args:
        problems: when given, a malformed image record (missing or wrongly typed field) is
            skipped and recorded here (``reason: "malformed-record"``) instead of failing.

    Raises:
        SourceError: missing file, malformed JSON, or (without ``problems``) a bad record.
    """
    path = Path(path)
    records, categories = [], {}
    for n, rec in enumerate(_read_records(path)):
        try:
            r, names = _record(rec, path)
        except SourceError as e:
            if problems is None:
                raise
            image_id = rec.get("image_id") if isinstance(rec, dict) else None
            problems.append({"source": str(path), "record": n, "image_id": image_id,
                             "reason": "malformed-record", "error": str(e)})
            continue
        records.append(r)
        categories.update(dict.fromkeys(names, True))
    return records, list(categories)


def _record(rec, path: Path) -> tuple[ImageRecord, list[str]]:
    if not isinstance(rec, dict):
        raise SourceError(f"{path}: expected an image object, got {type(rec).__name__}")
    image_id = require(rec, "image_id", path, "image")
    entities = require(rec, "entities", path, f"image {image_id}")
    captions = require(rec, "captions", path, f"image {image_id}")
    if not isinstance(entities, dict) or not isinstance(captions, list):
        raise SourceError(f"{path}: image {image_id}: 'entities' must be an object and "
                          "'captions' a list")
    try:
        r = ImageRecord(image_id, str(rec.get("file_name", f"{image_id}.jpg")),
                        int(require(rec, "height", path, f"image {image_id}")),
                        int(require(rec, "width", path, f"image {image_id}")))
    except (TypeError, ValueError):
        raise SourceError(f"{path}: image {image_id}: height and width must be integers") from None
    r.captions = [(f"{image_id}:{i}", str(c).strip()) for i, c in enumerate(captions)]
    for category, instances in entities.items():
        for i, polygons in enumerate(instances):
            r.instances.append(Instance(f"{image_id}:{category}:{i}", category, polygons))
    return r, list(entities)
