"""Images for the colouriser: image folders or a COCO annotation file, split, loaded, cropped.

``list_images`` finds the files (a folder recursively, or the ``file_name`` of every image
of a COCO JSON, each kept inside the folder); ``split`` shuffles them with a seed and holds
the last ``val_fraction`` out; ``CropDataset`` yields random ``crop x crop`` uint8 RGB crops
of each image resized to a short side of ``resize`` (and flipped half the time). An image
that cannot be read is not fatal: the loader yields its ``Reject`` (typed reason,
colorist/rejects.py) and the trainer writes it to ``rejects.jsonl``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import torch

from colorist.io.images import read_image
from colorist.io.names import path_inside
from colorist.rejects import Reject, RejectError

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class ImageListError(ValueError):
    """No image list: the folder (or the COCO json) names no image, or the json is unreadable."""


def list_images(images: str | Path, coco_json: str | Path | None = None,
                rejects: list[Reject] | None = None) -> list[Path]:
    """Sorted image files under ``images`` (or those a COCO JSON lists, inside ``images``).

    A COCO entry whose ``file_name`` is unusable (absolute elsewhere, leaving the folder
    through ``..`` or a symlink, not a string) is skipped and appended to ``rejects``.

    Raises:
        ValueError: no image found (the message names the folder or file).
    """
    root = Path(images)
    if coco_json is not None:
        try:
            data = json.loads(Path(coco_json).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ImageListError(f"{coco_json}: not a COCO json ({e})") from e
        if not isinstance(data, dict):
            raise ImageListError(f"{coco_json}: not a COCO json (no top-level object)")
        files = []
        for im in data.get("images", []):
            what = f"{coco_json}: image {im.get('id') if isinstance(im, dict) else im!r}"
            try:
                files.append(path_inside(root, im.get("file_name") if isinstance(im, dict)
                                         else None, what))
            except RejectError as e:
                if rejects is not None:
                    rejects.append(Reject.from_error(e, id=str(im.get("id"))
                                                     if isinstance(im, dict) else None))
    else:
        files = [p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()]
    if not files:
        raise ImageListError(f"no images in {coco_json or root}")
    return sorted(files)


def split(files: list[Path], val_fraction: float = 0.1, seed: int = 0
          ) -> tuple[list[Path], list[Path]]:
    """``(train, held-out)``: a seeded shuffle, the last ``val_fraction`` (at least one when
    the fraction is > 0 and there are two files or more) held out; both sorted."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = sorted(files)
    random.Random(seed).shuffle(order)
    n_val = round(len(order) * val_fraction)
    if val_fraction > 0 and len(order) > 1:
        n_val = max(n_val, 1)
    return sorted(order[: len(order) - n_val]), sorted(order[len(order) - n_val:])


def resize_short(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` resized (area) so that its shorter side is ``side``."""
    h, w = rgb.shape[:2]
    s = side / min(h, w)
    size = (max(side, round(w * s)), max(side, round(h * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def random_crop(rgb: np.ndarray, crop: int, rng: random.Random, flip: bool = True
                ) -> np.ndarray:
    """A random ``(crop, crop, 3)`` window (flipped left-right half the time)."""
    h, w = rgb.shape[:2]
    y, x = rng.randint(0, h - crop), rng.randint(0, w - crop)
    out = rgb[y : y + crop, x : x + crop]
    return np.ascontiguousarray(out[:, ::-1] if flip and rng.random() < 0.5 else out)


class CropDataset(torch.utils.data.Dataset):
    """``(crop, crop, 3)`` uint8 tensors, or a ``Reject`` for an unreadable image.

    Crops come from a generator per loader process (seeded with ``seed`` in the main process,
    with the worker's seed in a worker). ``cache=True`` keeps each resized image in memory
    once read (per process: for small datasets and CPU runs).
    """

    def __init__(self, files: list[Path], crop: int, resize: int, seed: int = 0,
                 cache: bool = False):
        if resize < crop:
            raise ValueError(f"resize ({resize}) must be at least crop ({crop})")
        self.files, self.crop, self.resize, self.seed = list(files), crop, resize, seed
        self.cache: dict[int, np.ndarray] | None = {} if cache else None
        self._rng: random.Random | None = None

    def __len__(self) -> int:
        return len(self.files)

    def _image(self, i: int) -> np.ndarray:
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        rgb = resize_short(read_image(self.files[i]), self.resize)
        if self.cache is not None:
            self.cache[i] = rgb
        return rgb

    def __getitem__(self, i: int):
        if self._rng is None:
            info = torch.utils.data.get_worker_info()
            self._rng = random.Random(self.seed if info is None else info.seed)
        try:
            rgb = self._image(i)
        except RejectError as e:
            return Reject.from_error(e, image=str(self.files[i]))
        return torch.from_numpy(random_crop(rgb, self.crop, self._rng))


def collate(items: list) -> tuple[torch.Tensor | None, list[Reject]]:
    """``((B, crop, crop, 3) uint8 or None, rejects)``."""
    crops = [x for x in items if isinstance(x, torch.Tensor)]
    rejects = [x for x in items if isinstance(x, Reject)]
    return (torch.stack(crops) if crops else None), rejects
