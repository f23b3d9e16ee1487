"""Safe file names from user-supplied words (caption words, job ids)."""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100


def safe_name(text: str, default: str = "item") -> str:
    """``text`` as a single safe path component: ASCII letters, digits, ``._-`` only.

    Separators, ``..`` and leading dots are removed, so the result can never leave the
    folder it is joined to ("../../etc/passwd" -> "etc_passwd").
    """
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", ascii_text).strip("._-")
    name = re.sub(r"\.{2,}", ".", name)[:MAX_NAME].strip("._-")
    return name or default
