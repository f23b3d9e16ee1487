"""The settings an output folder was made with, so that a rerun with other settings is
detected instead of mixing (or deleting) outputs of two configurations.

``OUT/<name>`` holds ``{"hash": ..., "settings": {...}}``; only settings that change the
content of an output go in (not thread counts, backends or progress bars).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from colorist.io.atomic import atomic_write_json


class ConfigChangedError(ValueError):
    """An output folder made with other settings; the message says which differ and what
    to do."""


def settings_hash(settings: dict[str, Any]) -> str:
    """A stable hash of JSON-able ``settings``."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read(path: Path) -> dict | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) and isinstance(stored.get("settings"), dict) \
        else None


def _differences(old: dict, new: dict) -> str:
    keys = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
    return "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:6])


def check_run_config(out: Path, name: str, settings: dict[str, Any], marker: str,
                     hint: str) -> None:
    """Record ``settings`` in ``out/name``, or refuse when ``out`` was made with others.

    Args:
        out: the output folder.
        name: the settings file name inside it.
        settings: JSON-able settings that change outputs.
        marker: a file whose presence means ``out`` holds outputs (``results.jsonl``);
            with it and no settings file, the folder's settings are unknown: refused too.
        hint: what the user can do instead (names the flag), appended to the message.

    Raises:
        ConfigChangedError: the stored settings differ, or are unknown next to outputs.
    """
    out = Path(out)
    path = out / name
    stored = _read(path)
    new_hash = settings_hash(settings)
    if stored is not None and stored.get("hash") != new_hash:
        raise ConfigChangedError(f"{out} was made with other settings "
                                 f"({_differences(stored['settings'], settings)}); {hint}")
    if stored is None and (out / marker).exists():
        raise ConfigChangedError(f"{out} holds {marker} from a run whose settings are unknown "
                                 f"(no valid {name}); {hint}")
    if stored is None:
        write_run_config(out, name, settings)


def write_run_config(out: Path, name: str, settings: dict[str, Any]) -> None:
    """Record ``settings`` as the folder's settings (after an explicit overwrite)."""
    atomic_write_json(Path(out) / name, {"hash": settings_hash(settings), "settings": settings})
