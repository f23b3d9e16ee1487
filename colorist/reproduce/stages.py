"""Resumable stages: each stage works in its own folder ``OUT/<stage>/`` and is skipped on a
rerun when it finished with the same settings.

``OUT/<stage>/stage_config.json`` records the settings (``colorist.io.run_config``: the
same file format and refusal as a dataset build's ``build_config.json``); ``stage.json`` is
written last, atomically, with the stage's result: its presence means the stage finished.
A stage's settings include the hashes of the stages it reads from, so a change upstream
makes every stage downstream a changed stage too.

A rerun with changed settings is refused (``ConfigChangedError`` naming the stage and the
settings that differ) unless ``rebuild``: then the stage's folder is moved to
``OUT/replaced/<time>/<stage>/`` (nothing is deleted) and the stage runs again. A stage
that started and did not finish runs again with the same settings in the same folder:
the APIs it calls resume (the dataset builder its recolouring, the trainer its checkpoint).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorist.io.atomic import atomic_write_json
from colorist.io.names import safe_name
from colorist.io.run_config import ConfigChangedError, check_run_config, settings_hash

SETTINGS = "stage_config.json"
DONE = "stage.json"
REPLACED = "replaced"


@dataclass
class StageResult:
    name: str
    folder: Path
    hash: str  # of the stage's settings: what downstream stages record
    result: dict
    skipped: bool  # finished earlier with the same settings


def set_aside(out: Path, name: str) -> Path:
    """Move ``out/name`` to ``out/replaced/<time>/name``; returns the new place."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest, n = out / REPLACED / stamp, 1
    while (dest / name).exists():
        dest, n = out / REPLACED / f"{stamp}-{n}", n + 1
    dest.mkdir(parents=True, exist_ok=True)
    os.replace(out / name, dest / name)
    return dest / name


def _finished(folder: Path, digest: str) -> dict | None:
    try:
        done = json.loads((folder / DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(done, dict) and done.get("hash") == digest
    return done.get("result") if ok and isinstance(done.get("result"), dict) else None


class StageRunner:
    """Runs stages in ``out``; ``log`` gets one line per stage (run, skipped, set aside)."""

    def __init__(self, out: str | Path, rebuild: bool = False,
                 log: Callable[[str], Any] = print):
        self.out, self.rebuild, self.log = Path(out), rebuild, log
        self.results: dict[str, StageResult] = {}

    def _prepare(self, name: str, folder: Path, settings: dict) -> None:
        hint = (f"pass --rebuild to redo stage {name!r} with these settings (its folder is "
                f"moved to {self.out / REPLACED}/<time>/, nothing is deleted), or a new --out")
        folder.mkdir(parents=True, exist_ok=True)
        try:
            check_run_config(folder, SETTINGS, settings, DONE, hint)
        except ConfigChangedError as e:
            if not self.rebuild:
                raise ConfigChangedError(f"stage {name}: {e}") from None
            self.log(f"{name}: settings changed, previous run moved to "
                     f"{set_aside(self.out, folder.name)}")
            folder.mkdir(parents=True)
            check_run_config(folder, SETTINGS, settings, DONE, hint)

    def run(self, name: str, settings: dict, fn: Callable[[Path], dict]) -> StageResult:
        """Run ``fn(folder) -> result`` (JSON-able) unless the stage finished with
        ``settings`` already; returns the stored or new result."""
        folder = self.out / safe_name(name)
        self._prepare(name, folder, settings)
        digest = settings_hash(settings)
        result = _finished(folder, digest)
        skipped = result is not None
        if skipped:
            self.log(f"{name}: done earlier with the same settings, skipped")
        else:
            self.log(f"{name}: running")
            result = fn(folder)
            atomic_write_json(folder / DONE, {"hash": digest, "result": result})
        self.results[name] = StageResult(name, folder, digest, result, skipped)
        return self.results[name]
