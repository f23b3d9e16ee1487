"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Files are created with the permissions a plain ``open(path, "w")`` would give them
(``0o666 & ~umask``), not ``mkstemp``'s private 0600.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux), else by
    setting and restoring it under a lock."""
    # not Linux: no such file, so the fallback below
    with contextlib.suppress(OSError, ValueError, IndexError), open(
            "/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _write_all(f: BinaryIO, data: bytes) -> None:
    """Every write of this module goes through here (tests make it fail like a full disk)."""
    f.write(data)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder + rename.

    Raises:
        OSError: the folder cannot be created or the disk is full; ``path`` is then left as
            it was and no temporary file remains.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """``atomic_write_bytes`` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: object) -> None:
    """``obj`` as indented, key-sorted JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def jsonl_text(rows) -> str:
    """JSON Lines text of ``rows`` (dicts), keys sorted."""
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def append_jsonl(path: str | Path, record: dict, sync: bool = True) -> None:
    """Append one JSON line; with ``sync`` also flush it to disk (``fsync``). Bulk writers
    append with ``sync=False`` and call ``fsync_file`` once per batch of lines.

    A crash can leave a torn last line without its newline; the next append starts on a
    new line, so the torn fragment stays one malformed line (``read_jsonl`` skips it) and
    is never glued to the next record.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    with open(path, "a+b") as f:
        if f.seek(0, os.SEEK_END) > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = b"\n" + line
        _write_all(f, line)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def fsync_file(path: str | Path) -> None:
    """Flush what was written to ``path`` (by any handle) to disk: one ``fsync``.

    Raises:
        OSError: the file cannot be opened or the device reports a write error.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: str | Path) -> list[dict]:
    """The records (JSON objects) of a JSONL manifest; torn, malformed or non-object lines
    and undecodable bytes are skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):  # malformed, huge number, nesting too deep
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


# The temporaries this module (``.NAME.<8 random characters>.tmp`` from mkstemp) and
# hard-link publishing (``.NAME.PID.link``) create beside their destination: a process
# killed mid-write leaves one behind, never a half-written destination.
TEMPORARY_NAME = re.compile(r"^\..+\.(?:[A-Za-z0-9_]{8}\.tmp|\d+\.link)$")
STALE_SECONDS = 60.0  # a writer holds its temporary for milliseconds


def remove_stale_temporaries(folder: str | Path, older_than: float = STALE_SECONDS) -> int:
    """Delete our own temporaries under ``folder`` that a killed run left (names matching
    ``TEMPORARY_NAME``, untouched for ``older_than`` seconds; a concurrent writer's fresh
    one is kept). Never touches any other file. Returns how many were removed."""
    now, removed = time.time(), 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not TEMPORARY_NAME.match(name):
                continue
            with contextlib.suppress(FileNotFoundError):
                if now - path.lstat().st_mtime >= older_than and not path.is_symlink():
                    path.unlink()
                    removed += 1
    return removed
