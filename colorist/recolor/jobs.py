"""Recolouring jobs: one object a line of a JSONL file.

A line::

    {"image": "img.jpg", "mask": "mask.png" | [[x0, y0, ...], ...] | {"size": [H, W],
     "counts": ...}, "source": "red", "targets": ["blue", "green"], "id": "optional"}

``mask`` is a PNG path or a COCO segmentation (polygons or RLE; ``segmentation`` is
accepted as its name too). ``targets`` defaults to every other palette colour. Paths are
relative to the JSONL file's folder (or the ``root`` given) and may not leave it: absolute
paths elsewhere, ``..`` out of it and symlinks pointing out are rejected. Every field is checked; a
bad line becomes a ``Reject`` naming the line and never stops the others. Other fields are
kept as the job's ``extra`` (written to results.jsonl, usable in file name templates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from colorist.io.names import UnsafePathError, path_inside, safe_name
from colorist.palette import DEFAULT_PALETTE, Palette, UnknownColorError
from colorist.rejects import Reject, RejectError

KNOWN_FIELDS = ("id", "image", "mask", "segmentation", "source", "targets")


@dataclass(frozen=True)
class Job:
    """One object to recolour."""

    id: str
    image: Path
    mask: Any  # Path of a mask image, or a COCO segmentation (list or dict)
    source: str
    targets: tuple[str, ...]
    line: int = 0
    extra: dict = field(default_factory=dict, compare=False)


class JobError(RejectError):
    """A job line that cannot be run; the message names the line and what is wrong."""

    reason = "malformed-record"


def _string(record: dict, key: str, line: int) -> str:
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise JobError(f"line {line}: '{key}' must be a non-empty string, got "
                       f"{type(value).__name__} {str(value)[:40]!r}")
    return value


def _colors(record: dict, line: int, palette: Palette) -> tuple[str, tuple[str, ...]]:
    """The canonical source colour and the target colours (deduplicated, in order)."""
    raw_targets = record.get("targets")
    if isinstance(raw_targets, str):
        raw_targets = [raw_targets]
    if raw_targets is not None and not (isinstance(raw_targets, list) and all(
            isinstance(t, str) for t in raw_targets)):
        raise JobError(f"line {line}: 'targets' must be a colour name or a list of them, got "
                       f"{type(raw_targets).__name__} {str(raw_targets)[:40]!r}")
    try:
        source = palette.canonical(_string(record, "source", line))
        targets = raw_targets or [c for c in palette.names if c != source]
        return source, tuple(dict.fromkeys(palette.canonical(t) for t in targets))
    except UnknownColorError as e:
        raise JobError(f"line {line}: {e}", "unknown-colour") from None


def _mask(record: dict, line: int, root: Path) -> Any:
    mask = record.get("mask", record.get("segmentation"))
    if isinstance(mask, str):
        return path_inside(root, mask, f"line {line}: mask")
    if not isinstance(mask, (list, dict)):
        raise JobError(f"line {line}: 'mask' must be a PNG path, COCO polygons or an RLE "
                       f"object, got {type(mask).__name__}")
    return mask


def _job_id(record: dict, line: int, image: Path, source: str) -> str:
    raw = record.get("id")
    if raw is None:
        return safe_name(f"{image.stem}_{source}")
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise JobError(f"line {line}: 'id' must be a string or an integer, got "
                       f"{type(raw).__name__}")
    return safe_name(str(raw))


def parse_job(record: Any, line: int, base: Path, palette: Palette = DEFAULT_PALETTE) -> Job:
    """A Job from one decoded JSON line.

    Args:
        record: the decoded line (untrusted).
        line: its 1-based line number (named in every error).
        base: the folder its paths are relative to; they may not leave it.

    Raises:
        JobError: a missing or wrongly typed field, or an unknown colour.
        UnsafePathError: a path that leaves ``base`` (absolute elsewhere, ``..``, a symlink).
    """
    if not isinstance(record, dict):
        raise JobError(f"line {line}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in ("image", "source") if k not in record]
    if "mask" not in record and "segmentation" not in record:
        missing.append("mask")
    if missing:
        raise JobError(f"line {line}: missing field(s) {', '.join(missing)}")
    source, targets = _colors(record, line, palette)
    image = path_inside(base, _string(record, "image", line), f"line {line}: image")
    mask = _mask(record, line, base)
    extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS}
    return Job(_job_id(record, line, image, source), image, mask, source, targets, line, extra)


def single_job(image: Path, mask: Path, source: str, targets: list[str] | None,
               palette: Palette = DEFAULT_PALETTE) -> Job:
    """The job of the single-object command line (paths given by the user, not a file).

    Raises:
        JobError: an unknown colour.
    """
    record = {"source": source, **({"targets": targets} if targets else {})}
    source, colors = _colors(record, 0, palette)
    return Job(safe_name(f"{Path(image).stem}_{source}"), Path(image), Path(mask), source,
               colors, 0, {})


def _unique(job: Job, seen: set[str]) -> Job:
    """The job with an id no earlier job has (``id_<line>``, then ``id_<line>_2``...)."""
    if job.id not in seen:
        return job
    candidate, n = f"{job.id}_{job.line}", 2
    while candidate in seen:
        candidate, n = f"{job.id}_{job.line}_{n}", n + 1
    return replace(job, id=candidate)


def _parse_line(text: str, n: int, base: Path, palette: Palette) -> Job | Reject:
    try:
        return parse_job(json.loads(text), n, base, palette)
    except json.JSONDecodeError as e:
        return Reject("malformed-json", f"line {n}: malformed JSON ({e.msg} at column "
                      f"{e.colno})", line=n)
    except (ValueError, RecursionError) as e:  # a number too large, nesting too deep
        if isinstance(e, RejectError):
            return Reject.from_error(e, line=n)
        return Reject("malformed-json", f"line {n}: unreadable JSON ({e})", line=n)


def read_jobs(
    path: str | Path, palette: Palette = DEFAULT_PALETTE, root: str | Path | None = None
) -> tuple[list[Job], list[Reject]]:
    """Parse a JSONL job file; bad lines become Rejects and never stop the rest.

    Args:
        root: the folder the paths are relative to (default: the file's folder).

    Raises:
        FileNotFoundError: the job file itself is missing (or not a file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"job file not found: {path}")
    base = Path(root) if root is not None else path.parent
    jobs: list[Job] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    text = path.read_text(encoding="utf-8", errors="replace")
    for n, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 is JSON
        if not line.strip():
            continue
        job = _parse_line(line, n, base, palette)
        if isinstance(job, Reject):
            rejects.append(job)
            continue
        job = _unique(job, seen)
        seen.add(job.id)
        jobs.append(job)
    return jobs, rejects


__all__ = ["Job", "JobError", "Reject", "UnsafePathError", "parse_job", "read_jobs",
           "single_job"]
