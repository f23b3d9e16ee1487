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

from colorist.sources.records import (
    ImageRecord,
    Instance,
    Problems,
    SourceError,
    check_caption,
    read_json,
    require,
    require_id,
    require_side,
)


def _read_records(path: Path, report: Problems) -> list:
    if path.suffix == ".jsonl":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise SourceError(f"{path}: annotation file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise SourceError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") \
                from None
        out = []
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except (ValueError, RecursionError) as e:
                    report(SourceError(f"{path}: line {n}: malformed JSON ({e})",
                                       "malformed-json"), line=n)
        return out
    data = read_json(path)
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of images, got {type(data).__name__}")
    return data


def load_standard(path: str | Path,
                  problems: list[dict] | None = None) -> tuple[list[ImageRecord], list[str]]:
    """Images and the category names found in a standard-format file.

    Args:
        problems: when given, a bad image record (a missing or wrongly typed field, an
            image id seen before) is skipped and kept here as a ``colorist.rejects.Reject``
            (``malformed-record``, ``duplicate-id``) instead of failing.

    Raises:
        SourceError: missing file, malformed JSON, or (without ``problems``) a bad record.
    """
    path = Path(path)
    report = Problems(problems, path)
    records, categories, seen = [], {}, set()
    for n, rec in enumerate(_read_records(path, report)):
        try:
            r, names = _record(rec, path)
            if r.image_id in seen:
                raise SourceError(f"{path}: record {n}: image id {r.image_id!r} appears "
                                  "twice; the second is skipped", "duplicate-id")
        except SourceError as e:
            report(e, record=n, image_id=rec.get("image_id") if isinstance(rec, dict) else None)
            continue
        seen.add(r.image_id)
        records.append(r)
        categories.update(dict.fromkeys(names, True))
    return records, list(categories)


def _record(rec, path: Path) -> tuple[ImageRecord, list[str]]:
    if not isinstance(rec, dict):
        raise SourceError(f"{path}: expected an image object, got {type(rec).__name__}")
    image_id = require_id(rec, "image_id", path, "image")
    what = f"image {image_id}"
    entities = require(rec, "entities", path, what)
    captions = require(rec, "captions", path, what)
    file_name = rec.get("file_name", f"{image_id}.jpg")
    if not isinstance(entities, dict) or not all(isinstance(v, list) for v in entities.values()):
        raise SourceError(f"{path}: {what}: 'entities' must map categories to lists of "
                          "instances")
    if not isinstance(captions, list):
        raise SourceError(f"{path}: {what}: 'captions' must be a list of strings")
    if not isinstance(file_name, str):
        raise SourceError(f"{path}: {what}: 'file_name' must be a string")
    r = ImageRecord(image_id, file_name, require_side(rec, "height", path, what),
                    require_side(rec, "width", path, what))
    r.captions = [(f"{image_id}:{i}", check_caption(c, path, what))
                  for i, c in enumerate(captions)]
    for category, instances in entities.items():
        for i, polygons in enumerate(instances):
            r.instances.append(Instance(f"{image_id}:{category}:{i}", category, polygons))
    return r, list(entities)
