"""What an output folder already holds: the settings it was made with and the objects that
are finished (their results line is written and every variant file is on disk).

Records of results.jsonl are untrusted (the folder may hold another tool's file, a torn
line, a hand edit): a record counts only when its fields have the right types and its
output paths stay inside the folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from colorist.io.atomic import read_jsonl
from colorist.io.names import UnsafePathError, path_inside
from colorist.io.run_config import check_run_config, settings_hash, write_run_config
from colorist.recolor.jobs import Job

RESULTS = "results.jsonl"
SETTINGS = "batch_config.json"


def batch_settings(cfg: Any) -> dict:
    """The settings of a ``BatchConfig`` that change its output files."""
    return {"image_format": cfg.image_format, "quality": cfg.quality,
            "name_template": cfg.name_template, "fit_source": cfg.fit_source,
            "palette": settings_hash({"repr": repr(cfg.palette)})}


def check_settings(cfg: Any) -> None:
    """Record the run's settings in ``OUT/batch_config.json``; with ``overwrite`` they
    replace the folder's, otherwise other settings are refused.

    Raises:
        ConfigChangedError: the folder holds results made with other (or unknown) settings.
    """
    settings = batch_settings(cfg)
    if cfg.overwrite:
        write_run_config(cfg.out, SETTINGS, settings)
        return
    check_run_config(cfg.out, SETTINGS, settings, RESULTS,
                     "pass a new --out, or --overwrite to redo every object with the new "
                     "settings")


def _outputs_on_disk(out: Path, outputs: Any) -> bool:
    if not isinstance(outputs, dict) or not outputs:
        return False
    try:
        return all(isinstance(p, str) and path_inside(out, p).is_file()
                   for p in outputs.values())
    except UnsafePathError:
        return False


def finished_records(out: Path) -> dict[str, dict]:
    """id -> the last valid results record whose variant files are all on disk."""
    done: dict[str, dict] = {}
    for rec in read_jsonl(Path(out) / RESULTS):
        if isinstance(rec.get("id"), str) and _outputs_on_disk(out, rec.get("outputs")):
            done[rec["id"]] = rec
    return done


def is_finished(job: Job, record: dict | None) -> bool:
    """The record is this job's: same source colour, a variant for every target."""
    return (record is not None and record.get("source") == job.source
            and set(job.targets) <= set(record["outputs"]))


def split_done(jobs: Sequence[Job], out: Path, overwrite: bool) -> tuple[list[Job], dict]:
    """``(todo, records of the finished jobs)``; with ``overwrite`` nothing is finished."""
    previous = {} if overwrite else finished_records(out)
    done = {j.id: previous[j.id] for j in jobs if is_finished(j, previous.get(j.id))}
    return [j for j in jobs if j.id not in done], done
