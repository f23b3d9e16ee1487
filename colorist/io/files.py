"""Reading input files named by data files: regular files only, with a size limit.

A FIFO would block the reader forever and ``/dev/zero`` never ends, so the file is opened
without blocking, checked with ``fstat`` on the open descriptor (no race with a swapped
path) and read only when it is a regular file under the byte limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from colorist.rejects import RejectError

MAX_FILE_BYTES = 256 * 2**20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _check_stat(st: os.stat_result, path, what: str, error: type[RejectError],
                max_bytes: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: not a regular file ({_kind(st.st_mode)})",
                    f"{what}-not-regular-file")
    if st.st_size > max_bytes:
        raise error(f"{path}: {what} file is {st.st_size} bytes, over the limit of "
                    f"{max_bytes}", f"{what}-too-large")


def read_regular_file(path: str | Path, what: str, error: type[RejectError],
                      max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file ``path``.

    Args:
        what: ``"image"`` or ``"mask"``: the prefix of the reason codes raised.
        error: the ``RejectError`` subclass to raise (its message names ``path``).
        max_bytes: larger files are refused before they are read.

    Raises:
        error: with reason ``{what}-not-found``, ``{what}-not-regular-file``,
            ``{what}-too-large`` or ``{what}-unreadable``.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found", f"{what}-not-found") from None
    except (OSError, ValueError) as e:  # permissions, a NUL in the name, a loop
        why = getattr(e, "strerror", None) or str(e)
        raise error(f"{path}: cannot read {what} ({why})", f"{what}-unreadable") from None
    try:
        _check_stat(os.fstat(fd), path, what, error, max_bytes)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror})", f"{what}-unreadable") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise error(f"{path}: {what} file grew over the limit of {max_bytes} bytes while "
                    "being read", f"{what}-too-large")
    return data
