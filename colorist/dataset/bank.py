"""Colour groups of a built dataset as tensors, for training and evaluation.

``GroupBank`` preprocesses every image of some groups once with the scorer's own CLIP
preprocessing (no random augmentation: the same tensors in training and evaluation) and
tokenizes every caption once. The groups come from ``colorist.dataset.schema.load_groups``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from colorist.dataset.schema import Group
from colorist.io import read_image


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
        """The groups' images read from their files, ``batch_size`` at a time."""
        paths = [p for g in groups for p in g.paths]
        pixels = torch.cat([scorer.preprocess([read_image(p) for p in paths[i : i + batch_size]])
                            .cpu() for i in range(0, len(paths), batch_size)])
        return cls._assemble(scorer, groups, pixels)

    @classmethod
    def from_images(cls, scorer, groups: list[Group], images: list) -> GroupBank:
        """Groups whose images are in memory (a streamed batch): ``images[i]`` is variant
        ``i`` of the groups flattened in order, (H, W, 3) uint8 RGB."""
        return cls._assemble(scorer, groups, scorer.preprocess(images).cpu())

    @classmethod
    def _assemble(cls, scorer, groups: list[Group], pixels: torch.Tensor) -> GroupBank:
        captions = [c for g in groups for c in g.captions]
        tok = scorer.tokenize(captions)
        rows, k = [], 0
        for g in groups:
            rows.append(list(range(k, k + len(g.colors))))
            k += len(g.colors)
        group_of = torch.tensor([gi for gi, r in enumerate(rows) for _ in r])
        original = torch.tensor([i == g.original for g in groups for i in range(len(g.colors))])
        return cls(groups, pixels, tok["input_ids"].cpu(),
                   tok.get("attention_mask", torch.ones_like(tok["input_ids"])).cpu(),
                   group_of, rows, [c for g in groups for c in g.colors], original)

    def __len__(self) -> int:
        return len(self.groups)
