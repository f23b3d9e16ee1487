"""The records every source produces."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SourceError(ValueError):
    """A missing or malformed annotation file; the message names the file and the item."""


@dataclass(frozen=True)
class Instance:
    """One annotated object: COCO polygons (list) or RLE (dict) in ``segmentation``."""

    annotation_id: int | str
    category: str
    segmentation: Any
    iscrowd: bool = False


@dataclass
class ImageRecord:
    """An image with its captions ``(caption_id, text)`` and instances."""

    image_id: int | str
    file_name: str
    height: int
    width: int
    captions: list[tuple[int | str, str]] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(f"{path}: annotation file not found") from None
    except OSError as e:
        raise SourceError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SourceError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from None


def require(record: Any, key: str, path: Path, what: str) -> Any:
    if not isinstance(record, dict) or key not in record:
        raise SourceError(f"{path}: {what} has no '{key}' field: {str(record)[:120]}")
    return record[key]
