"""Recolouring jobs: one object a line of a JSONL file.

A line::

    {"image": "img.jpg", "mask": "mask.png" | [[x0, y0, ...], ...] | {"size": [H, W],
     "counts": ...}, "source": "red", "targets": ["blue", "green"], "id": "optional"}

``mask`` is a PNG path or a COCO segmentation (polygons or RLE; ``segmentation`` is
accepted as its name too). ``targets`` defaults to every other palette colour. Relative
paths are relative to the JSONL file's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from colorist.io.names import safe_name
from colorist.palette import DEFAULT_PALETTE, Palette, UnknownColorError


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


@dataclass(frozen=True)
class Reject:
    """An item that was skipped, and why."""

    id: str | None
    line: int
    error: str
    image: str | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "line": self.line, "error": self.error, "image": self.image}


class JobError(ValueError):
    """A job line that cannot be run; the message names what is wrong."""


def _resolve(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def parse_job(
    record: Any, line: int, base: Path, palette: Palette = DEFAULT_PALETTE
) -> Job:
    """A Job from one decoded JSON line (raises JobError/UnknownColorError naming the line)."""
    if not isinstance(record, dict):
        raise JobError(f"line {line}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in ("image", "source") if k not in record]
    if "mask" not in record and "segmentation" not in record:
        missing.append("mask")
    if missing:
        raise JobError(f"line {line}: missing field(s) {', '.join(missing)}")
    try:
        source = palette.canonical(record["source"])
        targets = record.get("targets") or [c for c in palette.names if c != source]
        if isinstance(targets, str):
            targets = [targets]
        targets = tuple(dict.fromkeys(palette.canonical(t) for t in targets))
    except UnknownColorError as e:
        raise JobError(f"line {line}: {e}") from None
    mask = record.get("mask", record.get("segmentation"))
    if isinstance(mask, str):
        mask = _resolve(mask, base)
    image = _resolve(str(record["image"]), base)
    job_id = safe_name(str(record.get("id") or f"{image.stem}_{source}"))
    extra = {k: v for k, v in record.items() if k not in ("image", "mask", "segmentation")}
    return Job(job_id, image, mask, source, targets, line, extra)


def read_jobs(
    path: str | Path, palette: Palette = DEFAULT_PALETTE
) -> tuple[list[Job], list[Reject]]:
    """Parse a JSONL job file; bad lines become Rejects and never stop the rest.

    Raises:
        FileNotFoundError: the job file itself is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"job file not found: {path}")
    jobs: list[Job] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            job = parse_job(json.loads(text), n, path.parent, palette)
        except json.JSONDecodeError as e:
            msg = f"line {n}: malformed JSON ({e.msg} at column {e.colno})"
            rejects.append(Reject(None, n, msg))
            continue
        except JobError as e:
            rejects.append(Reject(None, n, str(e)))
            continue
        if job.id in seen:
            job = replace(job, id=f"{job.id}_{n}")
        seen.add(job.id)
        jobs.append(job)
    return jobs, rejects
