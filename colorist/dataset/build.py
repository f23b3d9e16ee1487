"""Mine captions and build the colour dataset on disk.

Layout of ``OUT/``::

    objects.jsonl, rejected.jsonl        what ``mine`` selected and why it skipped the rest
    images/{split}/{split}_{image_id}_{color}_{entity}.jpg   original + recoloured variants
    images/{split}/{split}_{image_id}_{entity}.json          one object: variants + captions
    images/{split}/metadata.jsonl        one line per image file (``datasets`` imagefolder)
    results.jsonl, rejects.jsonl, summary.json               the recolouring run (resumable)

``split`` is ``train``, ``val`` or ``complementary`` (evaluation only). One folder per split
is what ``datasets`` imagefolder expects: ``load_dataset("imagefolder", data_dir=OUT/"images")``
gives the ``train`` and ``validation`` splits with every metadata column, and
``data_dir=OUT/"images/complementary"`` the complementary set.

Recolouring goes through ``colorist.recolor.batch.run_batch``: batches on the chosen
backend, decode/encode on a thread pool, atomic writes, resume, the colour check.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from colorist.captions import mine_captions, rewrite_caption
from colorist.dataset.object_masks import MASK_SOURCE_NAMES, prepare_masks
from colorist.dataset.select import (
    COMPLEMENTARY_COLORS,
    DEFAULT_COLORS,
    SelectedObject,
    select_objects,
)
from colorist.io.atomic import atomic_write_json, atomic_write_text, read_jsonl
from colorist.recolor.batch import BatchConfig, run_batch, variant_path
from colorist.recolor.jobs import Job
from colorist.sources import ImageRecord

NAME_TEMPLATE = "{split}/{split}_{image_id}_{target}_{entity}"


@dataclass
class BuildConfig:
    out: Path
    images: Path | None = None
    colors: tuple[str, ...] = DEFAULT_COLORS
    complementary: tuple[str, ...] = COMPLEMENTARY_COLORS
    split: float = 0.8
    seed: int = 0
    limit: int | None = None
    shard: tuple[int, int] = (0, 1)
    backend: str = "auto"
    mask_source: str = "coco"  # coco | grounded-sam | clipseg
    mask_models: Path | None = None  # folder written by python -m colorist.masks export
    mask_options: dict = field(default_factory=dict)  # thresholds for the mask source
    refine_color: bool = False  # keep the parts of each mask that have the stated colour
    workers: int = 4
    progress: bool = True
    synonyms: dict = field(default_factory=dict)
    n_process: int = 1  # spaCy worker processes for caption mining
    source_problems: list = field(default_factory=list)  # skipped source records (rejects)


def _jsonl(rows: Sequence[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def mine(records: list[ImageRecord], categories: list[str], cfg: BuildConfig):
    """Select objects; write objects.jsonl and rejected.jsonl (atomically)."""
    texts = [text for r in records for _, text in r.captions]
    flat = mine_captions(texts, categories, synonyms=cfg.synonyms, n_process=cfg.n_process,
                         progress=cfg.progress)
    per_record, i = [], 0
    for r in records:
        per_record.append(flat[i : i + len(r.captions)])
        i += len(r.captions)
    objects, rejected = select_objects(records, per_record, cfg.colors, cfg.complementary)
    rejected = [*cfg.source_problems, *rejected]
    cfg.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cfg.out / "objects.jsonl", _jsonl([o.to_dict() for o in objects]))
    atomic_write_text(cfg.out / "rejected.jsonl", _jsonl(rejected))
    return objects, rejected


def assign_splits(objects: list[SelectedObject], split: float, seed: int) -> dict:
    """image_id -> "train" / "val" for main objects (by source image, seeded), and
    "complementary" for the evaluation-only objects."""
    main_ids = sorted({o.image_id for o in objects if o.group == "main"}, key=str)
    random.Random(seed).shuffle(main_ids)
    n_train = int(round(split * len(main_ids)))
    splits = {i: ("train" if k < n_train else "val") for k, i in enumerate(main_ids)}
    return splits


def _split_of(o: SelectedObject, splits: dict) -> str:
    return "complementary" if o.group == "complementary" else splits[o.image_id]


def _targets(o: SelectedObject, cfg: BuildConfig) -> list[str]:
    palette = cfg.colors if o.group == "main" else cfg.complementary
    return [o.color, *[c for c in palette if c != o.color]]


def _job(o: SelectedObject, split: str, cfg: BuildConfig, line: int) -> Job:
    extra = {"split": split, "image_id": o.image_id, "entity": o.entity}
    return Job(f"{split}_{o.image_id}_{o.entity}", cfg.images / o.file_name, o.segmentation,
               o.color, tuple(_targets(o, cfg)), line, extra)


def _choose(objects: list[SelectedObject], cfg: BuildConfig) -> list[SelectedObject]:
    objects = sorted(objects, key=lambda o: (str(o.image_id), o.category))
    i, n = cfg.shard
    objects = [o for k, o in enumerate(objects) if k % n == i]
    return objects[: cfg.limit] if cfg.limit else objects


def build(records, categories, cfg: BuildConfig, mask_source=None) -> dict:
    """Mine, recolour every selected object into its colours, write the dataset files.

    ``mask_source``: a ready ``GroundedSam``/``ClipSeg`` (else built from
    ``cfg.mask_models`` when a mask is needed)."""
    if cfg.mask_source not in MASK_SOURCE_NAMES:
        raise ValueError(f"unknown mask source {cfg.mask_source!r}; choose from "
                         f"{', '.join(MASK_SOURCE_NAMES)}")
    start = time.perf_counter()
    objects, rejected = mine(records, categories, cfg)
    splits = assign_splits(objects, cfg.split, cfg.seed)
    chosen = _choose(objects, cfg)
    jobs = [_job(o, _split_of(o, splits), cfg, k + 1) for k, o in enumerate(chosen)]
    if cfg.mask_source != "coco" or cfg.refine_color:
        chosen, jobs, mask_rejects = prepare_masks(chosen, jobs, cfg, mask_source)
        rejected += mask_rejects
    bcfg = BatchConfig(out=cfg.out, backend=cfg.backend, workers=cfg.workers, check=True,
                       progress=cfg.progress, name_template=NAME_TEMPLATE, quality=95)
    run = run_batch(jobs, bcfg)
    results = {r["id"]: r for r in read_jsonl(cfg.out / "results.jsonl")}
    failed = _drop_failed_checks(results, jobs, bcfg)
    rejected += [{"image_id": o.image_id, "category": o.category, "color": o.color,
                  "caption": o.caption, "reason": "recolor-check-failed"}
                 for o, j in zip(chosen, jobs) if j.id in failed]
    errors = {r["id"]: r["error"] for r in read_jsonl(cfg.out / "rejects.jsonl")}
    rejected += [{"image_id": o.image_id, "category": o.category, "color": o.color,
                  "caption": o.caption, "reason": "image-or-mask-error",
                  "error": errors.get(j.id, "not recoloured")}
                 for o, j in zip(chosen, jobs) if j.id not in results and j.id not in failed]
    atomic_write_text(cfg.out / "rejected.jsonl", _jsonl(rejected))
    built = [(o, j) for o, j in zip(chosen, jobs) if j.id in results and j.id not in failed]
    _write_descriptions(built, bcfg)
    summary = _summary(built, rejected, time.perf_counter() - start, run.backend)
    atomic_write_json(cfg.out / "dataset_summary.json", summary)
    return summary


def _drop_failed_checks(results: dict, jobs: list[Job], bcfg: BatchConfig) -> set[str]:
    """Objects with a variant whose dominant colour is not its target: files removed."""
    failed = set()
    for job in jobs:
        rec = results.get(job.id)
        if rec is None:
            continue
        checks = rec.get("check", {})
        if any(checks.get(t) != t for t in job.targets[1:]):
            failed.add(job.id)
            for t in job.targets:
                variant_path(bcfg.out, job, t, bcfg.image_format, bcfg.name_template).unlink(
                    missing_ok=True)
    return failed


def _write_descriptions(built, bcfg: BatchConfig) -> None:
    """One JSON per object and one imagefolder metadata.jsonl per split, atomically."""
    meta: dict[str, list[dict]] = {}
    for o, job in built:
        variants = []
        for t in job.targets:
            path = variant_path(bcfg.out, job, t, bcfg.image_format, bcfg.name_template)
            caption = o.caption if t == o.color else rewrite_caption(o.caption, o.span, t)
            variants.append({"color": t, "file_name": path.name, "caption": caption,
                             "original": t == o.color})
            meta.setdefault(job.extra["split"], []).append({
                "file_name": path.name, "text": caption, "color": t, "category": o.category,
                "image_id": o.image_id, "split": job.extra["split"], "group": job.id,
                "original": t == o.color})
        desc = {**o.to_dict(), "split": job.extra["split"], "variants": variants,
                "mask": str(job.mask.relative_to(bcfg.out)) if isinstance(job.mask, Path)
                and job.mask.is_relative_to(bcfg.out) else "coco"}
        atomic_write_json(path.parent / f"{job.id}.json", desc)
    root = bcfg.out / "images"
    stale = {p.parent.name for p in root.glob("*/metadata.jsonl")}
    for split in sorted(set(meta) | stale):  # a split emptied by a rerun gets an empty file
        atomic_write_text(root / split / "metadata.jsonl", _jsonl(meta.get(split, [])))


def _summary(built, rejected: list[dict], seconds: float, backend: str) -> dict:
    return {
        "objects": len(built), "seconds": round(seconds, 2), "backend": backend,
        "images": sum(len(j.targets) for _, j in built),
        "per_split": dict(Counter(j.extra["split"] for _, j in built)),
        "per_color": dict(Counter(o.color for o, _ in built)),
        "per_category": dict(Counter(o.category for o, _ in built)),
        "rejections": dict(Counter(r["reason"] for r in rejected)),
    }


def format_summary(summary: dict) -> str:
    lines = [f"{summary['objects']} objects, {summary['images']} images in "
             f"{summary['seconds']} s (backend {summary['backend']})"]
    for key in ("per_split", "per_color", "per_category", "rejections"):
        lines.append(f"{key.replace('_', ' ')}:")
        for name, n in sorted(summary[key].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {name:<28}{n:>6}")
    return "\n".join(lines)
