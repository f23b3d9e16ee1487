"""Which mined mentions become dataset objects, and why the others do not.

Per (image, category), over all of the image's captions:

1. a mention whose colour is not a palette colour -> ``colour-not-in-palette``;
2. a noun that maps to no category -> ``no-category``;
3. no instance of the category in the image -> ``not-in-image``; more than one, or a crowd
   annotation -> ``multiple-instances``;
4. the object named with two colours in some caption -> ``two-colours``;
5. captions that give it different colours -> ``conflicting-captions``;
6. a colour outside both the training colours and the complementary colours ->
   ``colour-not-used``;
7. else the object is selected, from its first caption (by caption id); the same object's
   mentions in other captions -> ``same-object-other-caption``.

Objects of the training colours go to train/val; objects of the complementary colours
(black, gray, white, brown) form the evaluation-only ``complementary`` set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from colorist.captions import Mention
from colorist.io.names import safe_name
from colorist.rejects import REASONS, Reject
from colorist.sources import ImageRecord

DEFAULT_COLORS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
COMPLEMENTARY_COLORS = ("black", "gray", "white", "brown")


@dataclass
class SelectedObject:
    image_id: Any
    file_name: str
    height: int
    width: int
    category: str
    color: str
    caption_id: Any
    caption: str
    span: tuple[int, int]
    annotation_id: Any
    segmentation: Any = field(repr=False)
    group: str = "main"  # "main" or "complementary"

    @property
    def entity(self) -> str:
        return safe_name(self.category.replace(" ", "-"))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["span"] = list(self.span)
        d["entity"] = self.entity
        d.pop("segmentation")
        return d

    def context(self) -> dict:
        """The fields that name this object in a Reject."""
        return {"image_id": self.image_id, "category": self.category, "color": self.color,
                "caption": self.caption}


def _reject(record: ImageRecord, caption_id, caption: str, m: Mention, reason: str) -> Reject:
    error = f"image {record.image_id}, caption {caption_id}: {m.color} {m.noun}: {REASONS[reason]}"
    return Reject(reason, error, context={
        "image_id": record.image_id, "caption_id": caption_id, "caption": caption,
        "color": m.color, "noun": m.noun, "category": m.category, "span": list(m.span)})


def select_objects(
    records: Sequence[ImageRecord],
    mentions: Sequence[Sequence[Sequence[Mention]]],
    colors: Sequence[str] = DEFAULT_COLORS,
    complementary: Sequence[str] = COMPLEMENTARY_COLORS,
) -> tuple[list[SelectedObject], list[Reject]]:
    """Objects to build and rejected mentions.

    Args:
        records: images with captions and instances.
        mentions: ``mentions[i][j]``: the mentions of caption j of record i.
    """
    selected, rejected = [], []
    for record, per_caption in zip(records, mentions):
        by_category: dict[str, list] = defaultdict(list)
        for (caption_id, caption), found in zip(record.captions, per_caption):
            for m in found:
                if not m.in_palette:
                    rejected.append(_reject(record, caption_id, caption, m,
                                            "colour-not-in-palette"))
                elif m.category is None:
                    rejected.append(_reject(record, caption_id, caption, m, "no-category"))
                else:
                    by_category[m.category].append((caption_id, caption, m))
        for category, items in by_category.items():
            reason = _object_reason(record, category, items, colors, complementary)
            if reason:
                rejected += [_reject(record, c, t, m, reason) for c, t, m in items]
                continue
            (caption_id, caption, m), *others = items
            inst = next(i for i in record.instances if i.category == category)
            selected.append(SelectedObject(
                record.image_id, record.file_name, record.height, record.width, category,
                m.color, caption_id, caption, m.span, inst.annotation_id, inst.segmentation,
                "main" if m.color in colors else "complementary"))
            rejected += [_reject(record, c, t, o, "same-object-other-caption")
                         for c, t, o in others]
    return selected, rejected


def _object_reason(record: ImageRecord, category: str, items: list, colors, complementary):
    instances = [i for i in record.instances if i.category == category]
    if not instances:
        return "not-in-image"
    if len(instances) > 1 or instances[0].iscrowd:
        return "multiple-instances"
    if any(m.colors_of_noun > 1 for _, _, m in items):
        return "two-colours"
    if len({m.color for _, _, m in items}) > 1:
        return "conflicting-captions"
    if items[0][2].color not in (*colors, *complementary):
        return "colour-not-used"
    return None
