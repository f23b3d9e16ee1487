"""Mine captions and build the colour dataset on disk.

Layout of ``OUT/``::

    objects.jsonl                    the objects mining selected
    rejects.jsonl                    every item left out, with its typed reason
                                     (``colorist.rejects``): source records, mentions,
                                     paths, masks, images, failed colour checks
    images/{split}/...               the dataset (``colorist.dataset.schema``): variants,
                                     one JSON per object, metadata.jsonl per split
    results.jsonl, summary.json      the recolouring run (resumable)
    build_config.json                the settings the folder was built with
    dataset_summary.json             counts

``split`` is ``train``, ``val`` or ``complementary`` (evaluation only). One folder per split
is what ``datasets`` imagefolder expects: ``load_dataset("imagefolder", data_dir=OUT/"images")``
gives the ``train`` and ``validation`` splits with every metadata column, and
``data_dir=OUT/"images/complementary"`` the complementary set.

Recolouring goes through ``colorist.recolor.batch.run_batch``: batches on the chosen
backend, decode/encode on a thread pool, atomic writes, resume, the colour check.

Reruns never delete anything. With the same settings a rerun resumes. With other settings
(colours, split, seed, mask source...) it is refused with a message; ``--rebuild`` moves
the previous build into ``OUT/replaced/<time>/`` and builds afresh. An object whose colour
check fails is a recorded state (its check in results.jsonl, its reason in rejects.jsonl):
it is left out of the metadata and descriptions, and its files stay where they are. Ids and
names from the data files become sanitised file names inside ``OUT``; image file names must
stay inside ``--images``.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from colorist.captions import mine_captions, rewrite_caption
from colorist.dataset import schema, wds
from colorist.dataset.object_masks import MASK_SOURCE_NAMES, prepare_masks
from colorist.dataset.outdir import prepare_out
from colorist.dataset.select import (
    COMPLEMENTARY_COLORS,
    DEFAULT_COLORS,
    SelectedObject,
    select_objects,
)
from colorist.io.atomic import atomic_write_json, atomic_write_text, jsonl_text
from colorist.io.images import MAX_PIXELS
from colorist.io.names import UnsafePathError, path_inside, safe_name
from colorist.quality import check_passed
from colorist.recolor.batch import BatchConfig, BatchSummary, run_batch, variant_path
from colorist.recolor.jobs import Job
from colorist.rejects import Reject
from colorist.sources import ImageRecord

NAME_TEMPLATE = "{split}/{split}_{image_id}_{target}_{entity}"
IMAGE_FORMAT = "jpg"
REJECTS = "rejects.jsonl"


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
    source_problems: list = field(default_factory=list)  # skipped source records (Rejects)
    rebuild: bool = False  # other settings than OUT's: set the old build aside, build anew
    max_pixels: int = MAX_PIXELS  # images with more pixels are rejected undecoded
    format: str = "folder"  # folder | wds (the folder layout plus WebDataset .tar shards)
    shard_size: int = 128  # objects per shard: a Ray task, a resume unit, a .tar shard


def mine_records(records: list[ImageRecord], categories: list[str], cfg: BuildConfig):
    """Mine the captions of some records and select their objects: ``(objects, rejects)``.

    Records are independent of one another: the Ray engine calls this on batches of records
    and concatenates the results in record order, which equals one call on all of them."""
    texts = [text for r in records for _, text in r.captions]
    flat = mine_captions(texts, categories, synonyms=cfg.synonyms, n_process=cfg.n_process,
                         progress=cfg.progress)
    per_record, i = [], 0
    for r in records:
        per_record.append(flat[i : i + len(r.captions)])
        i += len(r.captions)
    return select_objects(records, per_record, cfg.colors, cfg.complementary)


def select(records: list[ImageRecord], categories: list[str], cfg: BuildConfig):
    """Mine the captions and select objects: ``(objects, rejects)`` (the source problems
    first)."""
    objects, rejected = mine_records(records, categories, cfg)
    return objects, [*cfg.source_problems, *rejected]


def write_selection(out: Path, objects: list[SelectedObject], rejects: list[Reject]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "objects.jsonl", jsonl_text(o.to_dict() for o in objects))
    atomic_write_text(out / REJECTS, jsonl_text(r.to_dict() for r in rejects))


def mine(records: list[ImageRecord], categories: list[str], cfg: BuildConfig):
    """Select objects; write objects.jsonl and rejects.jsonl (atomically)."""
    objects, rejected = select(records, categories, cfg)
    write_selection(cfg.out, objects, rejected)
    return objects, rejected


def assign_splits(objects: list[SelectedObject], split: float, seed: int) -> dict:
    """image_id -> "train" / "val" for main objects (by source image, seeded), and
    "complementary" for the evaluation-only objects."""
    main_ids = sorted({o.image_id for o in objects if o.group == "main"}, key=str)
    random.Random(seed).shuffle(main_ids)
    n_train = int(round(split * len(main_ids)))
    return {i: ("train" if k < n_train else "val") for k, i in enumerate(main_ids)}


def _split_of(o: SelectedObject, splits: dict) -> str:
    return "complementary" if o.group == "complementary" else splits[o.image_id]


def _targets(o: SelectedObject, cfg: BuildConfig) -> list[str]:
    palette = cfg.colors if o.group == "main" else cfg.complementary
    return [o.color, *[c for c in palette if c != o.color]]


def _job(o: SelectedObject, split: str, cfg: BuildConfig, line: int) -> Job:
    """The recolouring job of an object; its id is a safe file name, its image must stay
    inside ``cfg.images`` (raises UnsafePathError otherwise)."""
    image = path_inside(cfg.images, o.file_name, f"image {o.image_id}: file_name")
    extra = {"split": split, "image_id": o.image_id, "entity": o.entity}
    return Job(safe_name(f"{split}_{o.image_id}_{o.entity}"), image, o.segmentation, o.color,
               tuple(_targets(o, cfg)), line, extra)


def make_jobs(chosen: list[SelectedObject], splits: dict, cfg: BuildConfig):
    """``([(object, job)], rejects)``: unsafe image paths and ids that collide (after
    sanitising) are rejected, never written over one another."""
    pairs, rejects, seen = [], [], set()
    for k, o in enumerate(chosen):
        try:
            job = _job(o, _split_of(o, splits), cfg, k + 1)
        except UnsafePathError as e:
            rejects.append(Reject.from_error(e, context=o.context()))
            continue
        if job.id in seen:
            rejects.append(Reject("duplicate-id", f"{job.id}: another object has this id",
                                  job.id, context=o.context()))
            continue
        seen.add(job.id)
        pairs.append((o, job))
    return pairs, rejects


def _choose(objects: list[SelectedObject], cfg: BuildConfig) -> list[SelectedObject]:
    objects = sorted(objects, key=lambda o: (str(o.image_id), o.category))
    i, n = cfg.shard
    objects = [o for k, o in enumerate(objects) if k % n == i]
    return objects[: cfg.limit] if cfg.limit is not None else objects


def plan_jobs(objects: list[SelectedObject], cfg: BuildConfig):
    """``([(object, job)], rejects)`` of the objects this build makes, in build order. The
    split of an object depends only on the selected objects and ``cfg.seed``
    (``assign_splits``), never on who recolours it."""
    return make_jobs(_choose(objects, cfg), assign_splits(objects, cfg.split, cfg.seed), cfg)


def batch_config(cfg: BuildConfig, out: Path | None = None) -> BatchConfig:
    """The recolouring run's settings; ``out``: where its results go (default ``cfg.out``;
    the Ray engine gives each shard its own folder)."""
    return BatchConfig(out=out or cfg.out, backend=cfg.backend, workers=cfg.workers,
                       check=True, progress=cfg.progress, name_template=NAME_TEMPLATE,
                       quality=95, image_format=IMAGE_FORMAT, max_pixels=cfg.max_pixels,
                       rejects_file=None)


@dataclass
class Recoloured:
    """What recolouring some objects gave.

    Attributes:
        built: ``[(object, job)]`` that passed, in the order given.
        rejects: the objects left out by the recolouring (unreadable, failed check...).
        run: the recolouring run's summary.
    """

    built: list
    rejects: list[Reject]
    run: BatchSummary


def needs_masks(cfg: BuildConfig) -> bool:
    """Whether the mask step runs (COCO polygons are rasterised by the recolouring jobs)."""
    return cfg.mask_source != "coco" or cfg.refine_color


def mask_pairs(pairs, cfg: BuildConfig, mask_source=None):
    """The mask step (when ``needs_masks``): ``(pairs whose mask PNG could be made, their
    jobs now reading it, rejects)``. ``mask_source``: a ready source, else built from
    ``cfg.mask_models`` when a model is needed."""
    if not pairs or not needs_masks(cfg):
        return pairs, []
    objects, jobs = [o for o, _ in pairs], [j for _, j in pairs]
    objects, jobs, rejects = prepare_masks(objects, jobs, cfg, mask_source)
    return list(zip(objects, jobs)), rejects


def recolour_pairs(pairs, cfg: BuildConfig, run_out: Path | None = None) -> Recoloured:
    """Recolour objects into their colours and judge them, the same for every engine: the
    run's results go to ``run_out`` (default ``cfg.out``; a rerun resumes there)."""
    run = run_batch([j for _, j in pairs], batch_config(cfg, run_out))
    built, rejects = _outcomes(pairs, run)
    return Recoloured(built, rejects, run)


def check_mask_source(cfg: BuildConfig) -> None:
    if cfg.mask_source not in MASK_SOURCE_NAMES:
        raise ValueError(f"unknown mask source {cfg.mask_source!r}; choose from "
                         f"{', '.join(MASK_SOURCE_NAMES)}")


def build(records, categories, cfg: BuildConfig, mask_source=None) -> dict:
    """Mine, recolour every selected object into its colours, write the dataset files.

    ``mask_source``: a ready ``GroundedSam``/``ClipSeg`` (else built from
    ``cfg.mask_models`` when a mask is needed).

    Raises:
        ValueError: an unknown mask source, an unusable ``out``, or ``out`` built with
            other settings (``ConfigChangedError``; ``cfg.rebuild`` sets it aside instead).
    """
    check_mask_source(cfg)
    start = time.perf_counter()
    prepare_out(cfg)
    objects, rejected = select(records, categories, cfg)
    write_selection(cfg.out, objects, rejected)
    pairs, path_rejects = plan_jobs(objects, cfg)
    pairs, mask_rejects = mask_pairs(pairs, cfg, mask_source)
    done = recolour_pairs(pairs, cfg)
    rejected += [*path_rejects, *mask_rejects, *done.rejects]
    summary = summarize(done.built, rejected, time.perf_counter() - start, done.run)
    write_outputs(cfg, rejected, summary, lambda: _write_local(done.built, cfg))
    return summary


def _write_local(built, cfg: BuildConfig) -> None:
    rows = write_dataset(built, cfg.out)
    if cfg.format == "wds":
        wds.write_index(cfg.out, wds.pack_all(cfg.out, [(wds.shard_of(job, cfg.shard_size), r)
                                                        for (_, job), r in zip(built, rows)]))


def failed_check(record: dict, job: Job) -> list[str]:
    """The targets whose variant failed the quality check (``colorist.quality``: people's
    colour names, never the palette's ranges); the original, ``job.targets[0]``, is not
    recoloured and not judged."""
    checks = record.get("check", {})
    return [t for t in job.targets[1:] if not check_passed(checks.get(t))]


def _outcomes(pairs, run: BatchSummary):
    """``([(object, job)] built, rejects)`` from the recolouring run's records and rejects
    (in memory: nothing is read back from the files the run wrote)."""
    errors = {r.id: r for r in run.rejects if r.id is not None}
    built, rejects = [], []
    for o, job in pairs:
        record = run.records.get(job.id)
        if record is None:
            r = errors.get(job.id) or Reject("internal-error", f"{job.id}: not recoloured",
                                             job.id)
            rejects.append(replace(r, context={**o.context(), **r.context}))
        elif failed := failed_check(record, job):
            rejects.append(Reject("recolor-check-failed", f"{job.id}: " + "; ".join(
                _check_failure(t, record.get("check", {}).get(t)) for t in failed),
                job.id, context=o.context()))
        else:
            built.append((o, job))
    return built, rejects


def _check_failure(target: str, entry: dict | None) -> str:
    if not isinstance(entry, dict):
        return f"{target}: not checked"
    return (f"{target}: body named {target} on {entry.get('hit', 0):.0%}, chroma noise "
            f"x{entry.get('chroma_noise', 0):.2f}, collateral {entry.get('collateral', 0):.0%}")


def _mask_field(job: Job, out: Path) -> str:
    if isinstance(job.mask, Path) and job.mask.is_relative_to(out):
        return str(job.mask.relative_to(out))
    return "coco"


def write_group_of(o: SelectedObject, job: Job, out: Path) -> list[dict]:
    """Write one built object's group description in ``out`` (atomically); return its
    metadata rows."""
    variants = []
    for t in job.targets:
        path = variant_path(out, job, t, IMAGE_FORMAT, NAME_TEMPLATE)
        caption = o.caption if t == o.color else rewrite_caption(o.caption, o.span, t)
        variants.append(schema.variant_entry(t, path.name, caption, t == o.color))
    return schema.write_group(out, job.extra["split"], job.id, o.to_dict(), variants,
                              _mask_field(job, out))


def write_dataset(built, out: Path) -> list[list[dict]]:
    """One JSON per object and one imagefolder metadata.jsonl per split, atomically;
    returns the metadata rows of each object."""
    per_object = [write_group_of(o, job, out) for o, job in built]
    schema.write_metadata(out, schema.rows_by_split(per_object))
    return per_object


def write_outputs(cfg: BuildConfig, rejected: list[Reject], summary: dict, write) -> None:
    """The dataset files (``write()``), rejects.jsonl and dataset_summary.json; a failure to
    write them (disk full) is kept in ``summary["write_error"]``: a rerun writes them
    again."""
    try:
        write()
        atomic_write_text(cfg.out / REJECTS, jsonl_text(r.to_dict() for r in rejected))
        atomic_write_json(cfg.out / "dataset_summary.json", summary)
    except OSError as e:
        summary["write_error"] = (f"cannot write the dataset files in {cfg.out} "
                                  f"({e.strerror or e}); free space and rerun to finish")


def summarize(built, rejected: list[Reject], seconds: float, run: BatchSummary) -> dict:
    return {
        "objects": len(built), "seconds": round(seconds, 2), "backend": run.backend,
        "images": sum(len(j.targets) for _, j in built),
        "per_split": dict(Counter(j.extra["split"] for _, j in built)),
        "per_color": dict(Counter(o.color for o, _ in built)),
        "per_category": dict(Counter(o.category for o, _ in built)),
        "rejections": dict(Counter(r.reason for r in rejected)),
        "write_failed": run.write_failed, "write_error": run.run_files_error,
    }


def format_summary(summary: dict) -> str:
    lines = [f"{summary['objects']} objects, {summary['images']} images in "
             f"{summary['seconds']} s (backend {summary['backend']})"]
    for key in ("per_split", "per_color", "per_category", "rejections"):
        lines.append(f"{key.replace('_', ' ')}:")
        for name, n in sorted(summary[key].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {name:<28}{n:>6}")
    return "\n".join(lines)
