"""WebDataset shards of a built dataset (``--format wds``), written beside the folder layout.

Layout::

    OUT/wds/{split}/{split}-{shard:06d}.tar   one sample per variant image
    OUT/wds/index.json                        per split: every shard's url (relative to
                                              OUT/wds), samples, groups and bytes

A sample is ``{key}.jpg`` (the variant file, byte for byte) and ``{key}.json`` (its row of
``metadata.jsonl``: file_name, text, color, category, image_id, split, group, original);
``key`` is the variant's file name without its suffix and without dots (WebDataset cuts a
key at its first dot). The variants of one object (a colour group) are consecutive, so a
streaming reader regroups them without holding the dataset in memory
(``colorist.train.wds_data``).

An object's shard is ``(job.line - 1) // shard_size``: its place in the build order, never
which worker or engine made it, so the local and the Ray engine write the same shards. Tar
members carry fixed metadata (mtime 0, uid/gid 0, mode 0644, GNU format): the same inputs
give the same bytes. Readers: ``webdataset.WebDataset(urls)`` or
``datasets.load_dataset("webdataset", data_files={"train": "OUT/wds/train/*.tar"})``.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from colorist.dataset import schema
from colorist.io.atomic import atomic_write_bytes, atomic_write_json, jsonl_text
from colorist.io.names import UnsafePathError, path_inside

FOLDER = "wds"
INDEX = "index.json"
INDEX_FORMAT = "colorist-wds/1"


def shard_of(job, shard_size: int) -> int:
    """The shard of a job (``job.line``: its 1-based place in the build order)."""
    return (job.line - 1) // shard_size


def shard_url(split: str, shard: int) -> str:
    """The tar file of a split's shard, relative to ``OUT/wds``."""
    return f"{split}/{split}-{shard:06d}.tar"


def sample_key(file_name: str) -> str:
    """The WebDataset key of a variant file: its stem, dots made underscores."""
    return Path(file_name).stem.replace(".", "_")


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def tar_bytes(out: Path, rows: list[dict]) -> bytes:
    """The tar of the samples of ``rows`` (metadata rows of one split, in order); the images
    are read from ``OUT/images/{split}/{file_name}``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for row in rows:
            key = sample_key(row["file_name"])
            image = schema.split_folder(out, row["split"]) / row["file_name"]
            _member(tar, f"{key}{Path(row['file_name']).suffix}", image.read_bytes())
            _member(tar, f"{key}.json", jsonl_text([row]).encode("utf-8"))
    return buf.getvalue()


def pack_shard(out: Path, shard: int, per_object: list[list[dict]]) -> list[dict]:
    """Write the tars of one shard (one per split that has objects in it), atomically;
    ``per_object``: each object's metadata rows, in build order. Returns the index
    entries."""
    entries = []
    for split, rows in sorted(schema.rows_by_split(per_object).items()):
        url = shard_url(split, shard)
        data = tar_bytes(Path(out), rows)
        atomic_write_bytes(Path(out) / FOLDER / url, data)
        entries.append({"split": split, "shard": shard, "url": url, "samples": len(rows),
                        "groups": len({r["group"] for r in rows}), "bytes": len(data)})
    return entries


def pack_all(out: Path, items: list[tuple[int, list[dict]]]) -> list[dict]:
    """Every shard of a build: ``items`` is ``(shard, metadata rows)`` per object, in build
    order. Returns the index entries."""
    shards: dict[int, list[list[dict]]] = {}
    for shard, rows in items:
        shards.setdefault(shard, []).append(rows)
    return [e for shard in sorted(shards) for e in pack_shard(out, shard, shards[shard])]


def write_index(out: Path, entries: list[dict]) -> None:
    """``OUT/wds/index.json``: per split, its shards in order with their counts."""
    splits: dict[str, list[dict]] = {}
    for e in sorted(entries, key=lambda e: (e["split"], e["shard"])):
        splits.setdefault(e["split"], []).append(
            {k: e[k] for k in ("url", "samples", "groups", "bytes")})
    atomic_write_json(Path(out) / FOLDER / INDEX, {"format": INDEX_FORMAT, "splits": splits})


def shard_urls(root: str | Path, split: str) -> list[str]:
    """The tar files of a split listed in ``root/wds/index.json`` (absolute paths).

    Raises:
        schema.DatasetError: no index, a malformed one, or no shard for ``split``.
    """
    path = Path(root) / FOLDER / INDEX
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        urls = [e["url"] for e in index["splits"].get(split, [])]
    except FileNotFoundError:
        raise schema.DatasetError(f"{path}: no WebDataset index (build with --format wds)") \
            from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise schema.DatasetError(f"{path}: malformed WebDataset index ({e!r})") from None
    if not urls:
        raise schema.DatasetError(f"{path}: no shard of split {split!r}")
    try:
        return [str(path_inside(path.parent, u, f"{path}: url")) for u in urls]
    except UnsafePathError as e:
        raise schema.DatasetError(str(e)) from None
