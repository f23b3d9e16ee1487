"""Bulk recolouring: jobs in, variant images + a results manifest + rejects out.

Output folder layout::

    OUT/images/<id>_<colour>.jpg   one file per variant
    OUT/previews/<id>.png          contact sheet per object (--preview)
    OUT/results.jsonl              one line per finished object (append-only)
    OUT/rejects.jsonl              the items skipped in the last run, with the reason
    OUT/summary.json               counts, timing and the colour-check pass rates
    OUT/batch_config.json          the settings the folder's outputs were made with

Every file is written atomically. An object is finished once its line is in results.jsonl
(after all its files are written), so a rerun skips finished objects and redoes the rest;
``overwrite`` redoes everything. A rerun with other output settings (format, quality,
palette...) is refused unless ``overwrite``. Decoding, encoding and writing run on a thread
pool while the backend recolours the previous batch.

A bad item (unreadable image, bad mask, a failed write) becomes a typed ``Reject``
(``colorist.rejects``) and never stops the others. When the disk fills up, the objects not
written are rejected with ``write-failed`` (their partial files removed), the summary says
so, and a rerun finishes them.

With a GPU backend (``triton``, ``cuda``) the bulk path stays on the device: the pool reads
file bytes and rasterises masks (JPEG sizes come from the frame header), JPEGs are decoded
in one nvJPEG call per batch, the batch is packed once (pinned host memory for the masks),
recoloured by one kernel launch, and the variants are encoded by one GPU JPEG call; only
compressed bytes, masks and a few thousand sampled pixels for the colour check cross
PCIe. Without torchvision's GPU codecs the same path decodes/encodes with OpenCV.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorist._native import check_threads
from colorist.io.atomic import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    jsonl_text,
)
from colorist.io.device_codec import DeviceCodec
from colorist.io.images import MAX_PIXELS, write_image
from colorist.io.names import safe_name
from colorist.palette import DEFAULT_PALETTE, Palette
from colorist.quality import check_means, check_passed, check_sampled, check_variants
from colorist.recolor.api import plan_objects
from colorist.recolor.backends import Backend, get_backend
from colorist.recolor.jobs import Job
from colorist.recolor.loading import Loaded, job_reject, load_job, load_job_for_gpu
from colorist.recolor.preview import contact_sheet
from colorist.recolor.resume import RESULTS, check_settings, split_done
from colorist.rejects import Reject

_Loaded = Loaded  # the load step's item (colorist.recolor.loading)
IMAGE_FORMATS = ("jpg", "png")
MAX_WORKERS = 256
MAX_BATCH = 4096


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
        run_files_error: why rejects.jsonl / summary.json could not be written, if so.
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
        }

# Masked pixels sampled per variant for the colour check on the GPU path.
CHECK_SAMPLES = 4096


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


def _recolor_group(impl: Backend, items: list[_Loaded], cfg: BatchConfig) -> list[np.ndarray]:
    images = [it.image for it in items]
    masks = [it.mask for it in items]
    alphas, params = plan_objects(
        impl, images, masks, [it.job.source for it in items],
        [list(it.job.targets) for it in items], cfg.palette, cfg.threads, cfg.fit_source,
    )
    return impl.run(images, alphas, params, cfg.threads)


def _record(item: _Loaded, outputs: dict, checks: dict, cfg: BatchConfig) -> dict:
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


def _write_preview(item: _Loaded, original: np.ndarray, variants, cfg: BatchConfig) -> None:
    sheet = contact_sheet(original, list(variants), item.job.targets, item.job.source,
                          palette=cfg.palette)
    write_image(cfg.out / "previews" / f"{item.job.id}.png", sheet)


def _variant_paths(item: _Loaded, cfg: BatchConfig) -> list[Path]:
    return [variant_path(cfg.out, item.job, t, cfg.image_format, cfg.name_template)
            for t in item.job.targets]


def _remove_partial(item: _Loaded, cfg: BatchConfig) -> None:
    """After a failed write: remove the object's variant files, which no results line
    refers to (orphans otherwise); a rerun writes them again."""
    for path in _variant_paths(item, cfg):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _write_item(item: _Loaded, variants: np.ndarray, cfg: BatchConfig) -> dict:
    """Write one object's variants (+ preview) and return its results record."""
    job = item.job
    outputs = {}
    for target, image, path in zip(job.targets, variants, _variant_paths(item, cfg)):
        write_image(path, image, cfg.quality)
        outputs[target] = str(path.relative_to(cfg.out))
    checks = (check_variants(item.image, item.mask, job.source, dict(zip(job.targets, variants)))
              if cfg.check else {})
    if cfg.preview:
        _write_preview(item, item.image, variants, cfg)
    return _record(item, outputs, checks, cfg)


def _write_encoded(item: _Loaded, blobs: list[bytes], checks: dict, preview, cfg) -> dict:
    """GPU path: write one object's already encoded variants (+ preview)."""
    outputs = {}
    for target, blob, path in zip(item.job.targets, blobs, _variant_paths(item, cfg)):
        atomic_write_bytes(path, blob)
        outputs[target] = str(path.relative_to(cfg.out))
    if preview is not None:
        _write_preview(item, *preview, cfg)
    return _record(item, outputs, checks, cfg)


def _decode_on_device(items: list[_Loaded], codec: DeviceCodec) -> None:
    """Decode the JPEGs of a batch in one device call; failures become the item's error."""
    todo = [it for it in items if it.error is None and it.image is None]
    decoded = codec.decode([(str(it.job.image), it.data) for it in todo])
    for it, image in zip(todo, decoded):
        it.data = None
        if isinstance(image, Exception):
            it.error = job_reject(it.job, image)
        elif tuple(image.shape[:2]) != it.mask.shape:
            it.error = Reject("image-undecodable", f"{it.job.image}: decoded size "
                              f"{tuple(image.shape[:2])} differs from the JPEG header's "
                              f"{it.mask.shape}", it.job.id, it.job.line or None,
                              str(it.job.image))
        else:
            it.image = image


def _sampled_checks(group: list[_Loaded], outs: list, cfg: BatchConfig) -> list[dict]:
    """The quality check from up to CHECK_SAMPLES object pixels of the original and of
    each variant (``colorist.quality.check_sampled``), gathered on the device and copied
    to the host in one transfer."""
    import torch

    gathered, sizes = [], []
    for item, out in zip(group, outs):
        idx = np.flatnonzero(item.mask.reshape(-1))
        if len(idx) > CHECK_SAMPLES:
            idx = idx[np.linspace(0, len(idx) - 1, CHECK_SAMPLES).astype(np.int64)]
        k, h, w, _ = out.shape
        at = torch.from_numpy(idx).to(out.device)
        original = torch.as_tensor(item.image, device=out.device).reshape(1, h * w, 3)
        gathered.append(torch.cat([original, out.reshape(k, h * w, 3)])[:, at].reshape(-1, 3))
        sizes.append((k + 1, len(idx)))
    pixels = torch.cat(gathered).cpu().numpy()
    checks, offset = [], 0
    for item, (k, n) in zip(group, sizes):
        px = pixels[offset : offset + k * n].reshape(k, n, 3)
        offset += k * n
        checks.append(check_sampled(px[0], dict(zip(item.job.targets, px[1:])),
                                    item.job.source))
    return checks


def _recolor_group_on_device(impl, group, cfg, codec, pool) -> list[tuple[_Loaded, Future]]:
    """Pack, recolour and encode a group on the device; the writes go to the pool."""
    alphas, params = plan_objects(
        impl, [it.image for it in group], [it.mask for it in group],
        [it.job.source for it in group], [list(it.job.targets) for it in group], cfg.palette,
        cfg.threads, cfg.fit_source,
    )
    batch = impl.pack([it.image for it in group], alphas)
    outs = impl.run(batch, None, params, cfg.threads)
    blobs = codec.encode([v for out in outs for v in out], f".{cfg.image_format}", cfg.quality)
    checks = _sampled_checks(group, outs, cfg) if cfg.check else [{}] * len(group)
    futures, offset = [], 0
    for item, out, check in zip(group, outs, checks):
        k = len(item.job.targets)
        preview = None
        if cfg.preview:
            image = item.image
            preview = (image if isinstance(image, np.ndarray) else image.cpu().numpy(),
                       out.cpu().numpy())
        futures.append((item, pool.submit(_write_encoded, item, blobs[offset : offset + k],
                                          check, preview, cfg)))
        offset += k
    return futures


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
    summary.rejected = len(summary.rejects)
    summary.reject_reasons.update(r.reason for r in summary.rejects)
    _write_run_files(cfg, summary)
    return summary


def _run(impl: Backend, todo: list[Job], cfg: BatchConfig, summary: BatchSummary) -> None:
    """Load, recolour and write ``todo``, batch by batch, with the I/O on a thread pool."""
    codec = DeviceCodec(impl.device()) if impl.on_gpu else None
    loader = partial(load_job_for_gpu if impl.on_gpu else load_job, max_pixels=cfg.max_pixels)
    bar = tqdm(total=len(todo), unit="obj", disable=not cfg.progress, desc=f"recolor[{impl.name}]")
    with ThreadPoolExecutor(cfg.workers) as pool:
        batches = _batches(todo, cfg.batch_size)
        loading = _submit_loads(pool, next(batches, []), loader)
        writes: list[tuple[_Loaded, Future]] = []
        while loading:
            items = [f.result() for f in loading]
            loading = _submit_loads(pool, next(batches, []), loader)  # prefetch the next
            if codec is not None:
                _decode_on_device(items, codec)
            ok = [it for it in items if it.error is None]
            summary.rejects += [it.error for it in items if it.error is not None]
            bar.update(len(items) - len(ok))
            for group in _group_by_k(ok):
                if codec is not None:
                    writes += _recolor_group_on_device(impl, group, cfg, codec, pool)
                    continue
                for item, variants in zip(group, _recolor_group(impl, group, cfg)):
                    writes.append((item, pool.submit(_write_item, item, variants, cfg)))
            writes = _collect_writes(writes, cfg, summary, bar, keep=2 * cfg.batch_size)
        _collect_writes(writes, cfg, summary, bar, keep=0)
    bar.close()


def _submit_loads(pool: ThreadPoolExecutor, jobs: list[Job], loader) -> list[Future]:
    return [pool.submit(loader, j) for j in jobs]


def _group_by_k(items: list[_Loaded]) -> list[list[_Loaded]]:
    """One backend call per number of targets (a call's table is (N, K, P))."""
    groups: dict[int, list[_Loaded]] = {}
    for it in items:
        groups.setdefault(len(it.job.targets), []).append(it)
    return list(groups.values())


def _finish(item: _Loaded, fut: Future, cfg: BatchConfig, summary: BatchSummary) -> None:
    """Record one finished write in results.jsonl, or reject the object when its files or
    its results line could not be written (its partial files removed)."""
    try:
        record = fut.result()
        append_jsonl(cfg.out / RESULTS, record)
    except Exception as e:  # disk full, permissions: reject the item, keep going
        _remove_partial(item, cfg)
        summary.write_failed += 1
        summary.rejects.append(Reject("write-failed", f"{item.job.id}: outputs not written "
                                      f"({e})", item.job.id, item.job.line or None,
                                      str(item.job.image)))
        return
    summary.done += 1
    summary.variants += len(record["outputs"])
    summary.records[record["id"]] = record
    for target, entry in record.get("check", {}).items():
        summary.checks[(target, check_passed(entry))] += 1
        summary.check_figures.setdefault(target, []).append(entry)


def _collect_writes(writes, cfg, summary, bar, keep: int):
    """Record finished writes in results.jsonl (oldest first) until ``keep`` are pending."""
    while len(writes) > keep:
        item, fut = writes.pop(0)
        _finish(item, fut, cfg, summary)
        bar.update(1)
    return writes


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
