"""The records every source produces, and the checks of the fields they come from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colorist.rejects import Reject, RejectError

MAX_SIDE = 1 << 20  # an image side in pixels; more is a malformed record
MAX_CAPTION = 10_000  # characters; spaCy refuses texts over 1e6 and captions are short


class SourceError(RejectError):
    """A missing or malformed annotation file or record; the message names the file and
    the item."""

    reason = "malformed-record"


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


class Problems:
    """Where a bad record goes: raised (``problems`` is None) or kept as a ``Reject``."""

    def __init__(self, problems: list[Reject] | None, path: Path):
        self.problems, self.path = problems, path

    def __call__(self, error: SourceError, **context: Any) -> None:
        if self.problems is None:
            raise error
        self.problems.append(Reject.from_error(error, context={"source": str(self.path),
                                                               **context}))


def read_json(path: str | Path) -> Any:
    """The decoded JSON file.

    Raises:
        SourceError: the file is missing, unreadable or not JSON (names it).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(f"{path}: annotation file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SourceError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SourceError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from None
    except (ValueError, RecursionError) as e:
        raise SourceError(f"{path}: unreadable JSON ({e})") from None


def require(record: Any, key: str, path: Path, what: str) -> Any:
    """``record[key]``.

    Raises:
        SourceError: ``record`` is not an object or has no ``key`` (names file and record).
    """
    if not isinstance(record, dict) or key not in record:
        raise SourceError(f"{path}: {what} has no '{key}' field: {str(record)[:120]}")
    return record[key]


def require_list(record: Any, key: str, path: Path, what: str) -> list:
    """``record[key]``, which must be a list."""
    value = require(record, key, path, what)
    if not isinstance(value, list):
        raise SourceError(f"{path}: {what}: '{key}' must be a list, got {type(value).__name__}")
    return value


def require_id(record: Any, key: str, path: Path, what: str) -> int | str:
    """``record[key]`` as an id: an integer or a non-empty string (no bool, float, list)."""
    value = require(record, key, path, what)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise SourceError(f"{path}: {what}: '{key}' must be an integer or a string, got "
                          f"{type(value).__name__} {str(value)[:40]!r}")
    return value


def require_side(record: Any, key: str, path: Path, what: str) -> int:
    """``record[key]`` as an image side: an integer in ``[1, MAX_SIDE]``."""
    value = require(record, key, path, what)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
        raise SourceError(f"{path}: {what}: '{key}' must be an integer in [1, {MAX_SIDE}], "
                          f"got {str(value)[:40]!r}")
    return value


def require_str(record: Any, key: str, path: Path, what: str) -> str:
    """``record[key]``, which must be a string."""
    value = require(record, key, path, what)
    if not isinstance(value, str):
        raise SourceError(f"{path}: {what}: '{key}' must be a string, got "
                          f"{type(value).__name__}")
    return value


def check_caption(text: Any, path: Path, what: str) -> str:
    """A caption: a string of at most ``MAX_CAPTION`` characters, stripped."""
    if not isinstance(text, str) or len(text) > MAX_CAPTION:
        raise SourceError(f"{path}: {what}: a caption must be a string of at most "
                          f"{MAX_CAPTION} characters")
    return text.strip()


def id_order(value: int | str) -> tuple[bool, int | str]:
    """A sort key for ids of mixed types: integers first (numerically), then strings."""
    return (isinstance(value, str), value)
