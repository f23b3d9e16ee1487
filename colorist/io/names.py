"""Safe file names from user-supplied words (caption words, job ids), and paths from data
files that must stay inside their base folder."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from colorist.rejects import RejectError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100


class UnsafePathError(RejectError):
    """A path from a data file that is absolute, leaves its base folder or holds a NUL."""

    reason = "unsafe-path"


def safe_name(text: str, default: str = "item") -> str:
    """``text`` as a single safe path component: ASCII letters, digits, ``._-`` only.

    Separators, ``..`` and leading dots are removed, so the result can never leave the
    folder it is joined to ("../../etc/passwd" -> "etc_passwd").
    """
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", ascii_text).strip("._-")
    name = re.sub(r"\.{2,}", ".", name)[:MAX_NAME].strip("._-")
    return name or default


def path_inside(base: str | Path, relative: object, what: str = "path") -> Path:
    """``base / relative`` resolved (symlinks followed), which must stay inside ``base``.

    Args:
        base: the folder the data file's paths are relative to (trusted: a CLI argument).
        relative: the path as the data file gives it (untrusted); an absolute path is
            accepted only when it lies inside ``base`` too.
        what: names the item in the error ("line 3: image").

    Raises:
        UnsafePathError: ``relative`` is not a non-empty string, holds a NUL, or resolves
            outside ``base`` (absolute elsewhere, through ``..`` or a symlink).
    """
    if not isinstance(relative, (str, os.PathLike)):
        raise UnsafePathError(f"{what}: a path must be a string, got {type(relative).__name__}")
    text = os.fspath(relative)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise UnsafePathError(f"{what}: {text!r} is not a usable file name")
    root = Path(base).resolve()
    try:
        full = (root / text).resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop
        raise UnsafePathError(f"{what}: {text!r} cannot be resolved ({e})") from None
    if not full.is_relative_to(root):
        how = "is absolute and outside" if Path(text).is_absolute() else "leaves"
        raise UnsafePathError(f"{what}: {text!r} {how} {base} (resolves to {full})")
    return full
