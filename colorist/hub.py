"""Loading pretrained models by hub id or local folder, with a one-line error offline.

No machine of ours can download weights: ``from_pretrained("openai/clip-vit-base-patch32")``
without network ends in transformers' multi-line OSError (after retries). Here it becomes
``ModelNotFoundError`` naming the model id and saying to pass a local folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class ModelNotFoundError(FileNotFoundError):
    """A model id that is neither a local folder nor reachable on the hub."""


def from_pretrained(load: Callable[[str], T], spec: str | Path, what: str = "model") -> T:
    """``load(str(spec))``; an OSError for a spec that is not a local path becomes one line.

    Args:
        load: e.g. ``CLIPModel.from_pretrained``.
        spec: a hub id or a ``save_pretrained`` folder.
        what: what is loaded, for the message ("model", "processor", "tokenizer").

    Raises:
        ModelNotFoundError: ``spec`` is not a local path and the hub could not provide it.
        OSError: a local folder transformers cannot read (its own message).
    """
    try:
        return load(str(spec))
    except OSError as e:
        if Path(spec).exists():
            raise
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelNotFoundError(
            f"cannot load the {what} {str(spec)!r}: no such local folder, and the Hugging Face "
            f"hub could not provide it (offline? {reason}). Pass a local folder (save_pretrained "
            f"or `huggingface-cli download {spec} --local-dir DIR` on a machine with network)"
        ) from None
