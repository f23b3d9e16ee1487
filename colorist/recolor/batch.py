"""Bulk recolouring: jobs in, variant images + a results manifest + rejects out.

Output folder layout::

    OUT/images/<id>_<colour>.jpg   one file per variant
    OUT/previews/<id>.png          contact sheet per object (--preview)
    OUT/results.jsonl              one line per finished object (append-only)
    OUT/rejects.jsonl              the items skipped in the last run, with the reason
    OUT/summary.json               counts, timing (stage_seconds) and the check pass rates
    OUT/batch_config.json          the settings the folder's outputs were made with

One pipeline for every backend (``colorist.recolor.pipeline``): the pool loads batch i+1
while the main thread recolours batch i (the codec's batch decode, the pre-pass and plan,
``Backend.prepare`` then ``Backend.run_prepared``) while the pool checks, encodes and
writes batch i-1. The codec (``colorist.recolor.loading.codec_for``: OpenCV on host
backends, nvJPEG on GPU ones) and the colour check (``checker_for``: full images on host
backends, pixels sampled on the device on GPU ones) follow the backend's kind.

Durability and resume. Every image file is written atomically (temporary file + rename;
not fsynced on its own). An object is finished once its line is in results.jsonl, and
its line is appended only after all its files are written. Lines are appended in job
order without an fsync each; results.jsonl is fsynced once per batch, after the batch's
last line. So a process crash loses nothing written, and a power loss loses at most the
lines after the last fsync (the tail of one batch), which a rerun redoes: a rerun skips
finished objects and redoes the rest (``overwrite`` redoes everything), and its lines
follow the job order, so an interrupted run resumed ends with the lines of one run without
interruption. A line torn by a crash stays one malformed line that readers skip
(``colorist.io.atomic.append_jsonl``). A rerun with other output settings (format,
quality, palette...) is refused unless ``overwrite``.

A bad item (unreadable image, bad mask, a failed write) becomes a typed ``Reject``
(``colorist.rejects``) and never stops the others. When the disk fills up, the objects not
written are rejected with ``write-failed`` (their partial files removed), the summary says
so, and a rerun finishes them.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from colorist._native import check_threads
from colorist.io.atomic import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    fsync_file,
    jsonl_text,
    remove_stale_temporaries,
)
from colorist.io.images import MAX_PIXELS, write_image
from colorist.io.names import safe_name
from colorist.palette import DEFAULT_PALETTE, Palette
from colorist.quality import check_means, check_passed
from colorist.recolor.api import plan_objects
from colorist.recolor.backends import Backend, get_backend
from colorist.recolor.jobs import Job
from colorist.recolor.loading import Loaded, codec_for
from colorist.recolor.pipeline import CHECK_SAMPLES, StageClock, checker_for, run_stages
from colorist.recolor.preview import contact_sheet
from colorist.recolor.resume import RESULTS, check_settings, split_done
from colorist.rejects import Reject

IMAGE_FORMATS = ("jpg", "png")
MAX_WORKERS = 256
MAX_BATCH = 4096
__all__ = ["CHECK_SAMPLES", "BatchConfig", "BatchSummary", "run_batch", "variant_path"]


@dataclass
class BatchConfig:
    """Options of a bulk run (the CLI flags of ``python -m colorist.recolor``).

    Raises (on construction):
        ValueError: a value out of its range (the message names the option).
    """

    out: Path = Path("colorist-out")
    backend: str = "auto"
    workers: int = 4
    threads: int = 0
    batch_size: int = 16
    quality: int = 95
    image_format: str = "jpg"
    overwrite: bool = False
    preview: bool = False
    check: bool = True
    fit_source: bool = True
    progress: bool = True
    palette: Palette = field(default_factory=lambda: DEFAULT_PALETTE)
    # Variant file name (without suffix); fields: id, target, and the job's extra fields.
    name_template: str = "{id}_{target}"
    max_pixels: int = MAX_PIXELS  # images (and masks) with more pixels are rejected
    rejects_file: str | None = "rejects.jsonl"  # None: the caller writes the rejects

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.threads = check_threads(self.threads)
        for name, lo, hi in (("workers", 1, MAX_WORKERS), ("batch_size", 1, MAX_BATCH),
                             ("quality", 1, 100), ("max_pixels", 1, 2**40)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
        if self.image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got "
                             f"{self.image_format!r}")


@dataclass
class BatchSummary:
    """What a run did.

    Attributes:
        records: id -> results record of every finished object (done now or before).
        rejects: every item skipped in this run (given and found), typed.
        write_failed: objects whose outputs could not be written (disk full...).
        run_files_error: why rejects.jsonl / summary.json could not be written (or
            results.jsonl not flushed to disk), if so.
        stage_seconds: seconds per pipeline stage, summed over threads, and ``wall``.
    """

    done: int = 0
    resumed: int = 0
    rejected: int = 0
    variants: int = 0
    seconds: float = 0.0
    backend: str = ""
    checks: Counter = field(default_factory=Counter)  # (target, passed) -> count
    check_figures: dict = field(default_factory=dict, repr=False)  # target -> [entries]
    reject_reasons: Counter = field(default_factory=Counter)
    records: dict = field(default_factory=dict, repr=False)
    rejects: list = field(default_factory=list, repr=False)
    write_failed: int = 0
    run_files_error: str | None = None
    stage_seconds: dict = field(default_factory=dict)  # stage -> seconds (StageClock)

    def to_dict(self) -> dict:
        per_target = {}
        for (target, passed), n in self.checks.items():
            row = per_target.setdefault(target, {"passed": 0, "failed": 0})
            row["passed" if passed else "failed"] += n
        for target, entries in self.check_figures.items():
            per_target[target].update(check_means(entries))
        return {
            "done": self.done, "resumed": self.resumed, "rejected": self.rejected,
            "variants": self.variants, "seconds": round(self.seconds, 3),
            "variants_per_second": round(self.variants / self.seconds, 1) if self.seconds else 0,
            "backend": self.backend, "check_by_target": per_target,
            "reject_reasons": dict(self.reject_reasons), "write_failed": self.write_failed,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }


def variant_path(out: Path, job: Job, target: str, image_format: str,
                 template: str = "{id}_{target}") -> Path:
    """``out/images/<template>.<format>``. Every field value is sanitised on its own (caption
    words can never add a folder or leave ``out``); a ``/`` written in the template itself
    makes a subfolder ("{split}/{id}_{target}")."""
    fields = {k: safe_name(str(v)) for k, v in {**job.extra, "id": job.id,
                                                  "target": target}.items()}
    parts = [safe_name(part) for part in template.format(**fields).split("/")]
    return out.joinpath("images", *parts[:-1], f"{parts[-1]}.{image_format}")


def _batches(jobs: Sequence[Job], size: int) -> Iterator[list[Job]]:
    for i in range(0, len(jobs), size):
        yield list(jobs[i : i + size])


@dataclass
class Post:
    """One recoloured object on its way to the post stage (check, encode, write).

    Attributes:
        variants: ``(K, H, W, 3)`` uint8 to encode there (None: ``blobs`` are encoded).
        blobs: the encoded variant files when the codec encodes whole batches.
        check: what the colour check judges (``FullCheck`` / ``SampledCheck``), or None.
        preview: ``(original, variants)`` as numpy for the contact sheet, or None.
    """

    item: Loaded
    variants: Any = None
    blobs: list[bytes] | None = None
    check: Any = None
    preview: tuple | None = None


def _record(item: Loaded, outputs: dict, checks: dict, cfg: BatchConfig) -> dict:
    """The results line: the job's extra fields, then the known fields (never overridden
    by an extra field of the same name)."""
    job = item.job
    record = {
        **job.extra, "id": job.id, "image": str(job.image), "source": job.source,
        "targets": list(job.targets), "outputs": outputs,
        "mask_pixels": int(np.count_nonzero(item.mask)),
    }
    record.pop("check", None)
    if cfg.check:
        record["check"] = checks
    return record


def _write_preview(item: Loaded, original: np.ndarray, variants, cfg: BatchConfig) -> None:
    sheet = contact_sheet(original, list(variants), item.job.targets, item.job.source,
                          palette=cfg.palette)
    write_image(cfg.out / "previews" / f"{item.job.id}.png", sheet)


def _variant_paths(item: Loaded, cfg: BatchConfig) -> list[Path]:
    return [variant_path(cfg.out, item.job, t, cfg.image_format, cfg.name_template)
            for t in item.job.targets]


def _write_variants(item: Loaded, blobs: list[bytes], cfg: BatchConfig) -> dict:
    """Write one object's encoded variants; target -> path relative to ``out``."""
    outputs = {}
    for target, blob, path in zip(item.job.targets, blobs, _variant_paths(item, cfg)):
        atomic_write_bytes(path, blob)
        outputs[target] = str(path.relative_to(cfg.out))
    return outputs


def _remove_partial(item: Loaded, cfg: BatchConfig) -> None:
    """After a failed write: remove the object's variant files, which no results line
    refers to (orphans otherwise); a rerun writes them again."""
    for path in _variant_paths(item, cfg):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _as_numpy(x: Any) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else x.cpu().numpy()


def _group_by_k(items: list[Loaded]) -> list[list[Loaded]]:
    """One backend call per number of targets (a call's table is (N, K, P))."""
    groups: dict[int, list[Loaded]] = {}
    for it in items:
        groups.setdefault(len(it.job.targets), []).append(it)
    return list(groups.values())


class _BulkRun:
    """The stages of one run (``colorist.recolor.pipeline.run_stages`` schedules them)."""

    def __init__(self, impl: Backend, cfg: BatchConfig, summary: BatchSummary, bar) -> None:
        self.impl, self.cfg, self.summary, self.bar = impl, cfg, summary, bar
        self.codec = codec_for(impl, cfg.max_pixels)
        self.checker = checker_for(impl) if cfg.check else None
        self.clock = StageClock()
        self.results = cfg.out / RESULTS

    def load(self, job: Job) -> Loaded:
        """Pool: read and decode (host codec) or read (device codec) one job's image."""
        with self.clock("decode"):
            return self.codec.load(job)

    def recolour(self, items: list[Loaded]) -> list[Post]:
        """Main thread: one batch from loaded items to ``Post`` tasks, in job order."""
        with self.clock("decode"):
            self.codec.decode(items)
        ok = [it for it in items if it.error is None]
        self.summary.rejects += [it.error for it in items if it.error is not None]
        self.bar.update(len(items) - len(ok))
        posts = {}
        for group in _group_by_k(ok):
            posts.update(zip(map(id, group), self._recolour_group(group)))
        return [posts[id(it)] for it in ok]

    def _recolour_group(self, group: list[Loaded]) -> list[Post]:
        cfg, impl, clock = self.cfg, self.impl, self.clock
        images = [it.image for it in group]
        with clock("prepass"):
            alphas, params = plan_objects(
                impl, images, [it.mask for it in group], [it.job.source for it in group],
                [list(it.job.targets) for it in group], cfg.palette, cfg.threads,
                cfg.fit_source)
        with clock("kernel"):
            outs = impl.run_prepared(impl.prepare(images, alphas), params, cfg.threads)
        blobs = self._encode_batch(outs)
        checks = [None] * len(group)
        if self.checker is not None:
            with clock("check"):
                checks = self.checker.gather(group, outs)
        return [Post(it, None if b is not None else out, b, c,
                     (_as_numpy(it.image), _as_numpy(out)) if cfg.preview else None)
                for it, out, b, c in zip(group, outs, blobs, checks)]

    def _encode_batch(self, outs: list) -> list:
        """Every variant of the group in one codec call where the codec encodes batches."""
        if not self.codec.encodes_batches:
            return [None] * len(outs)
        with self.clock("encode"):
            flat = self.codec.encode([v for out in outs for v in out],
                                     f".{self.cfg.image_format}", self.cfg.quality)
        ends = np.cumsum([len(out) for out in outs])
        return [flat[end - len(out) : end] for out, end in zip(outs, ends)]

    def post(self, task: Post) -> dict:
        """Pool: encode (host codec), write, check and preview one object; its record."""
        cfg, clock, item = self.cfg, self.clock, task.item
        blobs = task.blobs
        if blobs is None:
            with clock("encode"):
                blobs = self.codec.encode(list(task.variants), f".{cfg.image_format}",
                                          cfg.quality)
        with clock("write"):
            outputs = _write_variants(item, blobs, cfg)
        checks = {}
        if self.checker is not None:
            with clock("check"):
                checks = self.checker.judge(item, task.check)
        if task.preview is not None:
            with clock("write"):
                _write_preview(item, *task.preview, cfg)
        return _record(item, outputs, checks, cfg)

    def finish(self, posted: list[tuple[Post, Future]]) -> None:
        """Main thread: the batch's results lines in job order, then one fsync."""
        appended = sum(self._finish_one(task.item, fut) for task, fut in posted)
        if appended:
            with self.clock("results"):
                self._sync()

    def _finish_one(self, item: Loaded, fut: Future) -> bool:
        """Append one object's results line, or reject it when its files or its line could
        not be written (its partial files removed). True when a line was appended."""
        try:
            with self.clock("wait_post"):
                record = fut.result()
            with self.clock("results"):
                append_jsonl(self.results, record, sync=False)
        except Exception as e:  # disk full, permissions: reject the item, keep going
            self._write_failed(item, e)
            return False
        finally:
            self.bar.update(1)
        self._count(record)
        return True

    def _write_failed(self, item: Loaded, error: Exception) -> None:
        _remove_partial(item, self.cfg)
        self.summary.write_failed += 1
        self.summary.rejects.append(Reject(
            "write-failed", f"{item.job.id}: outputs not written ({error})", item.job.id,
            item.job.line or None, str(item.job.image)))

    def _count(self, record: dict) -> None:
        summary = self.summary
        summary.done += 1
        summary.variants += len(record["outputs"])
        summary.records[record["id"]] = record
        for target, entry in record.get("check", {}).items():
            summary.checks[(target, check_passed(entry))] += 1
            summary.check_figures.setdefault(target, []).append(entry)

    def _sync(self) -> None:
        """One fsync of results.jsonl for the batch; a failure is reported, not raised
        (the lines are written; a power loss before they reach the disk is redone)."""
        try:
            fsync_file(self.results)
        except OSError as e:
            self.summary.run_files_error = self.summary.run_files_error or (
                f"cannot flush {self.results} to disk ({e.strerror or e}); a rerun redoes "
                "the objects whose lines are lost")


def _unique_jobs(jobs: Sequence[Job]) -> tuple[list[Job], list[Reject]]:
    """Jobs with distinct ids (their files would overwrite each other); later ones with an
    id already used are rejected as ``duplicate-id``."""
    seen: set[str] = set()
    unique, rejects = [], []
    for job in jobs:
        if job.id in seen:
            rejects.append(Reject("duplicate-id", f"{job.id}: id already used by an earlier "
                                  "job", job.id, job.line or None, str(job.image)))
            continue
        seen.add(job.id)
        unique.append(job)
    return unique, rejects


def _prepare_out(cfg: BatchConfig) -> None:
    """Create the output folder and check its settings.

    Raises:
        ValueError: ``out`` is a file or cannot be created (names it).
        ConfigChangedError: the folder was made with other settings.
    """
    if cfg.out.exists() and not cfg.out.is_dir():
        raise ValueError(f"output folder {cfg.out} is a file; pass a folder to --out")
    try:
        cfg.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder {cfg.out} ({e.strerror})") from None
    check_settings(cfg)
    remove_stale_temporaries(cfg.out)  # a killed run's half-written temporaries


def run_batch(
    jobs: Sequence[Job], cfg: BatchConfig, rejects: Sequence[Reject] = ()
) -> BatchSummary:
    """Recolour every job; bad items are recorded in rejects.jsonl, the rest finish.

    Raises:
        ValueError: an unusable output folder, or one made with other settings.
        BackendUnavailableError: the backend cannot run here.
    """
    impl = get_backend(cfg.backend)
    _prepare_out(cfg)
    jobs, duplicates = _unique_jobs(jobs)
    todo, finished = split_done(jobs, cfg.out, cfg.overwrite)
    summary = BatchSummary(backend=impl.name, resumed=len(finished), records=dict(finished),
                           rejects=[*rejects, *duplicates])
    start = time.perf_counter()
    _run(impl, todo, cfg, summary)
    summary.seconds = time.perf_counter() - start
    summary.stage_seconds["wall"] = summary.seconds
    summary.rejected = len(summary.rejects)
    summary.reject_reasons.update(r.reason for r in summary.rejects)
    _write_run_files(cfg, summary)
    return summary


def _run(impl: Backend, todo: list[Job], cfg: BatchConfig, summary: BatchSummary) -> None:
    """Load, recolour and write ``todo``, batch by batch, the stages overlapped."""
    bar = tqdm(total=len(todo), unit="obj", disable=not cfg.progress, desc=f"recolor[{impl.name}]")
    run = _BulkRun(impl, cfg, summary, bar)
    try:
        with ThreadPoolExecutor(cfg.workers) as pool:
            run_stages(_batches(todo, cfg.batch_size), pool, run.load, run.recolour, run.post,
                       run.finish, run.clock)
    finally:
        summary.stage_seconds = run.clock.seconds
        bar.close()


def _write_run_files(cfg: BatchConfig, summary: BatchSummary) -> None:
    """rejects.jsonl and summary.json; a failure (disk full) is kept in the summary, not
    raised: the objects already finished stay recorded in results.jsonl."""
    try:
        if cfg.rejects_file:
            atomic_write_text(cfg.out / cfg.rejects_file,
                              jsonl_text(r.to_dict() for r in summary.rejects))
        atomic_write_json(cfg.out / "summary.json", summary.to_dict())
    except OSError as e:
        summary.run_files_error = (f"cannot write the run files in {cfg.out} ({e.strerror or e})"
                                   "; the finished objects are recorded in results.jsonl, "
                                   "rerun to finish the rest")
