"""The on-disk schema of a built colour dataset, both sides: written by
``colorist.dataset.build``, read by ``colorist.train``, ``colorist.eval`` and the preview.

::

    OUT/images/{split}/metadata.jsonl   one row per image file (``datasets`` imagefolder):
                                        file_name, text, color, category, image_id, split,
                                        group, original
    OUT/images/{split}/{group}.json     one object (a colour group): the selected object's
                                        fields, split, mask, and its variants
                                        [{color, file_name, caption, original}]

``split`` is ``train``, ``val`` or ``complementary``. metadata.jsonl lists the groups of a
split: files of objects left out (a failed colour check, a smaller ``--limit``) may stay in
the folder but are not part of the dataset. Readers trust nothing they read: every file
name must stay inside the split folder, and a malformed description is a ``DatasetError``
naming the file.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorist.io.atomic import atomic_write_json, atomic_write_text, jsonl_text, read_jsonl
from colorist.io.names import UnsafePathError, path_inside

IMAGES = "images"
METADATA = "metadata.jsonl"
SPLITS = ("train", "val", "complementary")


class DatasetError(ValueError):
    """A dataset folder or file that cannot be used (the message names it)."""


# ---- writing ------------------------------------------------------------------------------

def split_folder(root: str | Path, split: str) -> Path:
    """``root/images/{split}``."""
    return Path(root) / IMAGES / split


def variant_entry(color: str, file_name: str, caption: str, original: bool) -> dict:
    """One variant of a group description."""
    return {"color": color, "file_name": file_name, "caption": caption, "original": original}


def metadata_row(variant: dict, obj: dict, split: str, group: str) -> dict:
    """The metadata.jsonl row of one variant of the object ``obj`` (its description)."""
    return {"file_name": variant["file_name"], "text": variant["caption"],
            "color": variant["color"], "category": obj["category"],
            "image_id": obj["image_id"], "split": split, "group": group,
            "original": variant["original"]}


def write_group(root: Path, split: str, group: str, obj: dict, variants: list[dict],
                mask: str) -> list[dict]:
    """Write ``{group}.json`` (atomically); return the group's metadata rows."""
    desc = {**obj, "split": split, "variants": variants, "mask": mask}
    atomic_write_json(split_folder(root, split) / f"{group}.json", desc)
    return [metadata_row(v, obj, split, group) for v in variants]


def rows_by_split(per_object: list[list[dict]]) -> dict[str, list[dict]]:
    """split -> the metadata rows of some objects (each object's rows), in their order."""
    rows: dict[str, list[dict]] = {}
    for object_rows in per_object:
        for row in object_rows:
            rows.setdefault(row["split"], []).append(row)
    return rows


def write_metadata(root: Path, rows: dict[str, list[dict]]) -> None:
    """metadata.jsonl of every split in ``rows``; a split folder that has one from an
    earlier build and no rows now gets an empty file (its groups are no longer listed)."""
    stale = {p.parent.name for p in (Path(root) / IMAGES).glob(f"*/{METADATA}")}
    for split in sorted(set(rows) | stale):
        atomic_write_text(split_folder(root, split) / METADATA, jsonl_text(rows.get(split, [])))


# ---- reading ------------------------------------------------------------------------------

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


def _strings(values: Any, what: str, path: Path) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DatasetError(f"{path}: malformed group description ({what} must be strings)")
    return values


def read_group(folder: Path, group: str, split: str) -> Group:
    """The group ``group`` of the split folder ``folder``.

    Raises:
        DatasetError: a missing or malformed description, a file name that leaves the
            folder, or a variant image that does not exist (each names the path).
    """
    try:
        path = path_inside(folder, f"{group}.json", f"{folder / METADATA}: group")
        desc = json.loads(path.read_text(encoding="utf-8"))
        variants = desc["variants"]
        colors = _strings([v["color"] for v in variants], "colours", path)
        captions = _strings([v["caption"] for v in variants], "captions", path)
        names = _strings([v["file_name"] for v in variants], "file names", path)
        category, color = _strings([desc["category"], desc["color"]], "category, colour", path)
        paths = [path_inside(folder, n, f"{path}: variant") for n in names]
    except UnsafePathError as e:
        raise DatasetError(str(e)) from None
    except FileNotFoundError:
        raise DatasetError(f"{folder / group}.json: group description not found") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{folder / group}.json: malformed group description ({e!r})") \
            from None
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(f"{path}: variant image {missing[0]} does not exist")
    return Group(group, split, category, color, colors, captions, paths)


def group_ids(folder: Path) -> list[str]:
    """The groups metadata.jsonl lists, sorted."""
    return sorted({row["group"] for row in read_jsonl(folder / METADATA)
                   if isinstance(row.get("group"), str)})


def load_groups(root: str | Path, split: str, min_variants: int = 2) -> list[Group]:
    """Groups of ``root/images/{split}``, sorted by id.

    A group with fewer than ``min_variants`` variants is skipped with a warning (it cannot
    teach or test a colour choice).

    Raises:
        DatasetError: no such split folder, no group in it, a malformed group description,
            or a variant image file that does not exist (each names the path).
    """
    folder = split_folder(root, split)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such split folder (build the dataset with "
                           "`python -m colorist.dataset build`)")
    groups = []
    for group in group_ids(folder):
        g = read_group(folder, group, split)
        if len(g.paths) < min_variants or g.color not in g.colors:
            warnings.warn(f"{folder / group}.json: skipped, {len(g.paths)} variant(s) (need "
                          f"{min_variants} including the original)", stacklevel=2)
            continue
        groups.append(g)
    if not groups:
        raise DatasetError(f"{folder}: no usable group (is {METADATA} there?)")
    return groups


def load_all_groups(root: str | Path) -> list[Group]:
    """Every group of every split folder that has any (for previews)."""
    groups = []
    for split in SPLITS:
        folder = split_folder(root, split)
        groups += [read_group(folder, g, split) for g in group_ids(folder)]
    return groups
