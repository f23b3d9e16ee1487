"""Colour groups streamed from WebDataset shards (``build --format wds``), for training on
more data than fits in memory.

``WdsGroups(root, "train")`` reads ``root/wds/index.json``; each epoch it shuffles the
shard list (seeded by epoch), gives rank ``r`` of ``world`` the shards ``r::world``, streams
their samples with ``webdataset`` (one tar open at a time), regroups the consecutive
variants of each object into a ``Group`` with its decoded images, shuffles groups in a
bounded buffer and yields batches of groups. Only the buffer and one batch are in memory.

Every rank takes the same number of steps per epoch (DDP needs it): the smallest number of
full batches any rank's shards hold, computed from the index's group counts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from colorist.dataset.schema import DatasetError, Group
from colorist.dataset.wds import FOLDER, INDEX, shard_urls
from colorist.io.images import decode_image

SHUFFLE_GROUPS = 256  # groups held by the shuffle buffer


def streamed_bank(scorer, batch: list[tuple[Group, list[np.ndarray]]]):
    """The ``GroupBank`` of one streamed batch (its images preprocessed now)."""
    from colorist.dataset.bank import GroupBank

    return GroupBank.from_images(scorer, [g for g, _ in batch],
                                 [im for _, images in batch for im in images])


def regroup(samples: Iterable[dict], split: str) -> Iterator[tuple[Group, list[np.ndarray]]]:
    """Consecutive samples of one object -> ``(Group, images)``; ``images[i]`` is the
    (H, W, 3) uint8 RGB variant of ``colors[i]``.

    Raises:
        DatasetError: a sample without its json or image (names the sample's key).
    """
    current: list[tuple[dict, bytes, str]] = []
    for sample in samples:
        key = sample.get("__key__", "?")
        if "json" not in sample or "jpg" not in sample:
            raise DatasetError(f"{sample.get('__url__', '?')}: sample {key} has no "
                               f"{'json' if 'json' not in sample else 'jpg'}")
        row = json.loads(sample["json"])
        if current and row["group"] != current[0][0]["group"]:
            yield _group(current, split)
            current = []
        current.append((row, sample["jpg"], key))
    if current:
        yield _group(current, split)


def _group(items: list[tuple[dict, bytes, str]], split: str) -> tuple[Group, list[np.ndarray]]:
    rows = [row for row, _, _ in items]
    original = next((r["color"] for r in rows if r["original"]), rows[0]["color"])
    group = Group(rows[0]["group"], split, rows[0]["category"], original,
                  [r["color"] for r in rows], [r["text"] for r in rows], [])
    return group, [decode_image(data, key) for _, data, key in items]


class WdsGroups:
    """The groups of one split of a WebDataset build, streamed in batches."""

    def __init__(self, root: str | Path, split: str = "train", shuffle: int = SHUFFLE_GROUPS):
        self.root, self.split, self.shuffle = Path(root), split, shuffle
        self.urls = shard_urls(root, split)
        index = json.loads((self.root / FOLDER / INDEX).read_text(encoding="utf-8"))
        self.groups = {str(Path(root, FOLDER, e["url"]).resolve()): int(e["groups"])
                       for e in index["splits"][split]}

    def _rank_urls(self, epoch: int, seed: int, rank: int, world: int) -> list[str]:
        if len(self.urls) < world:
            raise DatasetError(f"{self.root / FOLDER}: {len(self.urls)} {self.split} shard(s) "
                               f"for {world} ranks; build with a smaller --shard-size")
        urls = list(self.urls)
        random.Random(seed * 1_000_003 + epoch).shuffle(urls)
        return urls[rank::world]

    def steps(self, per_rank: int, world: int = 1) -> int:
        """Full batches of ``per_rank`` groups every rank can take in an epoch."""
        urls = self._rank_urls(0, 0, 0, 1)
        per = [sum(self.groups[u] for u in urls[r::world]) for r in range(world)]
        if min(per) < per_rank:
            raise DatasetError(f"{self.root / FOLDER}: a rank's {self.split} shards hold "
                               f"{min(per)} groups, fewer than one batch of {per_rank}")
        return min(per) // per_rank

    def batches(self, per_rank: int, epoch: int, seed: int = 0, rank: int = 0,
                world: int = 1) -> Iterator[list[tuple[Group, list[np.ndarray]]]]:
        """``steps(per_rank, world)`` batches of ``per_rank`` groups for this rank."""
        import webdataset

        urls = self._rank_urls(epoch, seed, rank, world)
        samples = webdataset.DataPipeline(webdataset.SimpleShardList(urls),
                                          webdataset.tarfile_to_samples())
        rng = random.Random(seed * 7_919 + epoch * 104_729 + rank)
        groups = webdataset.shuffle(self.shuffle, initial=self.shuffle, rng=rng)(
            regroup(samples, self.split))
        for _ in range(self.steps(per_rank, world)):
            batch = [g for _, g in zip(range(per_rank), groups)]
            if len(batch) < per_rank:
                return
            yield batch

