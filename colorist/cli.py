"""argparse value types shared by the command lines: every flag is checked when it is
parsed, so a bad value is a one-line usage error naming the flag, never a traceback."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[lo, hi]`` (no upper bound when ``hi`` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {bound}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a finite number in ``[lo, hi]`` (NaN and inf refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be a number "
                                             f"between {lo} and {hi}")
        return value

    parse.__name__ = "number"
    return parse


def out_folder(text: str) -> Path:
    """An argparse type: an output folder (may not exist yet; may not be a file)."""
    path = Path(text)
    if not text or "\x00" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable folder name")
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    return path


def in_folder(text: str) -> Path:
    """An argparse type: an existing folder to read from."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not an existing folder")
    return path


def in_file(text: str) -> Path:
    """An argparse type: an existing regular file to read."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not an existing file")
    return path


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and shows every option's default.

    ``(default: X)`` is added to an option's help unless the help already says its default,
    the default is None (the help says what happens then) or the option is a switch.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("%(default)" in text or "default:" in text or not action.option_strings
                or action.default in (None, argparse.SUPPRESS) or action.nargs == 0):
            return text
        return text + " (default: %(default)s)"
