"""Why an item was skipped: the one table of reason codes, the typed error that carries a
code, and the ``Reject`` record that every stage writes to ``rejects.jsonl``.

Stages never parse error messages: a check raises a ``RejectError`` subclass with its
``reason`` (a key of ``REASONS``), and the caller turns it into a ``Reject`` with
``Reject.from_error``. The recolour batch, the dataset builder, the sources, the mask
sources and the evaluation and probe commands all use these codes, so counts agree across
``summary.json`` files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REASONS: dict[str, str] = {
    # records of data files (job lines, annotation records)
    "malformed-json": "a line is not valid JSON",
    "malformed-record": "a record misses a field or has a field of the wrong type",
    "unknown-colour": "a colour name the palette does not know",
    "duplicate-id": "an id that an earlier item already uses",
    "unknown-image": "an annotation refers to an image the file does not list",
    "unknown-category": "an annotation refers to a category the file does not list",
    "unsafe-path": "a path that leaves its base folder (absolute, '..', a symlink out, NUL)",
    # image files
    "image-not-found": "the image file does not exist",
    "image-not-regular-file": "the image path is a FIFO, a device or a folder",
    "image-too-large": "the image file or its pixel count is over the limit",
    "image-unreadable": "the image file cannot be read",
    "image-undecodable": "the bytes are not a decodable image",
    # masks
    "mask-not-found": "the mask file does not exist",
    "mask-not-regular-file": "the mask path is a FIFO, a device or a folder",
    "mask-too-large": "the mask file or its pixel count is over the limit",
    "mask-unreadable": "the mask file cannot be read",
    "mask-undecodable": "the mask file is not a decodable image",
    "mask-malformed": "a segmentation that is neither polygons nor RLE",
    "mask-out-of-bounds": "a polygon outside the image",
    "mask-size-mismatch": "a mask of another size than its image",
    "mask-empty": "a mask that marks no pixel",
    "mask-no-confident-box": "the detector found no box above the thresholds",
    "mask-several-confident-boxes": "the detector found several boxes for one object",
    "refine-color-not-found": "the stated colour is not in the mask",
    # caption mining and object selection
    "colour-not-in-palette": "a colour word that is not a palette colour",
    "no-category": "a noun that maps to no category",
    "not-in-image": "no instance of the category in the image",
    "multiple-instances": "more than one instance of the category, or a crowd annotation",
    "two-colours": "the object is named with two colours in one caption",
    "conflicting-captions": "captions give the object different colours",
    "colour-not-used": "a colour outside the training and complementary colours",
    "same-object-other-caption": "the object was selected from another caption",
    # models (the evaluation and probe commands)
    "model-unloadable": "a model that cannot be loaded (no such folder or hub id, no "
                        "config.json, an unknown model type, a checkpoint the scorer refuses)",
    # recolouring and writing
    "recolor-check-failed": "a variant's colour check did not name its target",
    "write-failed": "an output file could not be written (disk full, permissions)",
    "internal-error": "an unexpected error (a bug: please report it with the item)",
}


def check_reason(reason: str) -> str:
    """``reason`` when it is a key of ``REASONS``.

    Raises:
        ValueError: a code that is not in the table (a programming error).
    """
    if reason not in REASONS:
        raise ValueError(f"unknown reject reason {reason!r}; add it to colorist.rejects.REASONS")
    return reason


class RejectError(ValueError):
    """An item that cannot be used; ``reason`` is its code in ``REASONS``, the message names
    the item. Subclasses set a default ``reason``; a raise site may pass a finer one."""

    reason = "internal-error"

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = check_reason(reason)


def reason_of(error: BaseException) -> str:
    """The reason code of an exception (``internal-error`` for an untyped one)."""
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, str) and reason in REASONS else "internal-error"


@dataclass(frozen=True)
class Reject:
    """An item that was skipped, and why.

    Attributes:
        reason: a key of ``REASONS``.
        error: what is wrong, naming the item (defaults to the reason's description).
        id: the item's id, when it has one.
        line: the line of the item in its file (1-based), when it came from one.
        image: the image file of the item, when known.
        context: further fields written with the record (image_id, category, caption...).
    """

    reason: str
    error: str = ""
    id: str | None = None
    line: int | None = None
    image: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_reason(self.reason)
        if not self.error:
            object.__setattr__(self, "error", REASONS[self.reason])

    @classmethod
    def from_error(cls, error: BaseException, **fields: Any) -> Reject:
        """A Reject from a raised error (a typed one keeps its code)."""
        reason = reason_of(error)
        text = str(error) if reason != "internal-error" else f"{type(error).__name__}: {error}"
        return cls(reason, text, **fields)

    def to_dict(self) -> dict:
        """The JSON record: context fields, then reason, error and the known item fields."""
        d = dict(self.context)
        d.update(reason=self.reason, error=self.error)
        d.update({k: v for k, v in (("id", self.id), ("line", self.line),
                                    ("image", self.image)) if v is not None})
        return d
