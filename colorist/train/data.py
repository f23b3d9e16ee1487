"""Colour groups of a built dataset (``python -m colorist.dataset build``), as tensors.

A group is one object: its original image and its recolours, each with its caption
(``images/{split}/{split}_{image_id}_{entity}.json``). ``GroupBank`` preprocesses every image
once with the scorer's own CLIP preprocessing (no random augmentation: the same tensors in
training and evaluation) and tokenizes every caption once.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from colorist.io import read_image


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used (the message names it)."""


@dataclass
class Group:
    """One object's variants: ``colors[i]`` is the colour of ``paths[i]`` / ``captions[i]``."""

    id: str
    split: str
    category: str
    color: str  # the original colour
    colors: list[str]
    captions: list[str]
    paths: list[Path]

    @property
    def original(self) -> int:
        return self.colors.index(self.color)


def load_groups(root: str | Path, split: str, min_variants: int = 2) -> list[Group]:
    """Groups of ``root/images/{split}``, sorted by id.

    A group with fewer than ``min_variants`` variants is skipped with a warning (it cannot
    teach or test a colour choice).

    Raises:
        DatasetError: no such split folder, no group in it, a malformed group JSON, or a
            variant image file that does not exist (each names the path).
    """
    folder = Path(root) / "images" / split
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such split folder (build the dataset with "
                           "`python -m colorist.dataset build`)")
    groups = []
    for path in sorted(folder.glob("*.json")):
        try:
            desc = json.loads(path.read_text(encoding="utf-8"))
            variants = desc["variants"]
            g = Group(path.stem, split, desc["category"], desc["color"],
                      [v["color"] for v in variants], [v["caption"] for v in variants],
                      [folder / v["file_name"] for v in variants])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DatasetError(f"{path}: malformed group description ({e!r})") from None
        missing = [p for p in g.paths if not p.is_file()]
        if missing:
            raise DatasetError(f"{path}: variant image {missing[0]} does not exist")
        if len(g.paths) < min_variants or g.color not in g.colors:
            warnings.warn(f"{path}: skipped, {len(g.paths)} variant(s) (need {min_variants} "
                          "including the original)", stacklevel=2)
            continue
        groups.append(g)
    if not groups:
        raise DatasetError(f"{folder}: no usable group")
    return groups


@dataclass
class GroupBank:
    """Every image and caption of some groups, preprocessed once.

    Attributes:
        pixels: (N, 3, S, S) float, image ``i`` of the flattened groups.
        input_ids, attention_mask: (N, L), caption ``i`` (the caption of image ``i``).
        group_of: (N,) long, the group index of row ``i``.
        rows: per group, the row indices of its variants.
        colors: per row, the variant's colour.
    """

    groups: list[Group]
    pixels: torch.Tensor
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    group_of: torch.Tensor
    rows: list[list[int]]
    colors: list[str]
    original: torch.Tensor = field(default=None)  # (N,) bool: the unrecoloured variant

    @classmethod
    def build(cls, scorer, groups: list[Group], batch_size: int = 64) -> GroupBank:
        paths = [p for g in groups for p in g.paths]
        captions = [c for g in groups for c in g.captions]
        pixels = torch.cat([scorer.preprocess([read_image(p) for p in paths[i : i + batch_size]])
                            .cpu() for i in range(0, len(paths), batch_size)])
        tok = scorer.tokenize(captions)
        rows, k = [], 0
        for g in groups:
            rows.append(list(range(k, k + len(g.paths))))
            k += len(g.paths)
        group_of = torch.tensor([gi for gi, r in enumerate(rows) for _ in r])
        original = torch.tensor([i == g.original for g in groups for i in range(len(g.paths))])
        return cls(groups, pixels, tok["input_ids"].cpu(),
                   tok.get("attention_mask", torch.ones_like(tok["input_ids"])).cpu(),
                   group_of, rows, [c for g in groups for c in g.colors], original)

    def __len__(self) -> int:
        return len(self.groups)
