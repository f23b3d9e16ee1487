"""Bulk recolouring: jobs in, variant images + a results manifest + rejects out.

Output folder layout::

    OUT/images/<id>_<colour>.jpg   one file per variant
    OUT/previews/<id>.png          contact sheet per object (--preview)
    OUT/results.jsonl              one line per finished object (append-only)
    OUT/rejects.jsonl              the items skipped in the last run, with the reason
    OUT/summary.json               counts, timing and the colour-check pass rates

Every file is written atomically. An object is finished once its line is in results.jsonl
(after all its files are written), so a rerun skips finished objects and redoes the rest;
``overwrite`` redoes everything. Decoding, encoding and writing run on a thread pool while
the backend recolours the previous batch.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorist.io.atomic import append_jsonl, atomic_write_json, atomic_write_text, read_jsonl
from colorist.io.images import ImageReadError, read_image, write_image
from colorist.io.masks import MaskError, mask_from_coco, read_mask_png, require_nonempty
from colorist.palette import DEFAULT_PALETTE, Palette
from colorist.recolor.api import plan_objects
from colorist.recolor.backends import Backend, get_backend
from colorist.recolor.jobs import Job, Reject
from colorist.recolor.preview import contact_sheet


@dataclass
class BatchConfig:
    """Options of a bulk run (the CLI flags of ``python -m colorist.recolor``)."""

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


@dataclass
class BatchSummary:
    """What a run did."""

    done: int = 0
    resumed: int = 0
    rejected: int = 0
    variants: int = 0
    seconds: float = 0.0
    backend: str = ""
    checks: Counter = field(default_factory=Counter)  # (target, passed) -> count
    reject_reasons: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        per_target = {}
        for (target, passed), n in self.checks.items():
            row = per_target.setdefault(target, {"passed": 0, "failed": 0})
            row["passed" if passed else "failed"] += n
        return {
            "done": self.done, "resumed": self.resumed, "rejected": self.rejected,
            "variants": self.variants, "seconds": round(self.seconds, 3),
            "variants_per_second": round(self.variants / self.seconds, 1) if self.seconds else 0,
            "backend": self.backend, "check_by_target": per_target,
            "reject_reasons": dict(self.reject_reasons),
        }


@dataclass
class _Loaded:
    job: Job
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    error: str | None = None


def variant_path(out: Path, job: Job, target: str, image_format: str) -> Path:
    return out / "images" / f"{job.id}_{target}.{image_format}"


def load_job(job: Job) -> _Loaded:
    """Decode the image and rasterise the mask; errors are returned, never raised."""
    try:
        image = read_image(job.image)
        if isinstance(job.mask, Path):
            mask = read_mask_png(job.mask, image.shape[:2])
        else:
            mask = mask_from_coco(job.mask, image.shape[:2])
        require_nonempty(mask, f"{job.id}")
        return _Loaded(job, image, mask)
    except (ImageReadError, MaskError) as e:
        return _Loaded(job, error=str(e))
    except Exception as e:  # a bad item must never stop the batch
        return _Loaded(job, error=f"{type(e).__name__}: {e}")


def finished_ids(cfg: BatchConfig) -> set[str]:
    """Ids whose results line exists and whose variant files are all on disk."""
    done = set()
    for rec in read_jsonl(cfg.out / "results.jsonl"):
        outputs = rec.get("outputs", {})
        if outputs and all((cfg.out / p).is_file() for p in outputs.values()):
            done.add(rec.get("id"))
    return done


def _batches(jobs: Sequence[Job], size: int) -> Iterator[list[Job]]:
    for i in range(0, len(jobs), size):
        yield list(jobs[i : i + size])


def _recolor_group(impl: Backend, items: list[_Loaded], cfg: BatchConfig) -> list[np.ndarray]:
    images = [it.image for it in items]
    masks = [it.mask for it in items]
    params = plan_objects(
        impl, images, masks, [it.job.source for it in items],
        [list(it.job.targets) for it in items], cfg.palette, cfg.threads, cfg.fit_source,
    )
    return impl.run(images, masks, params, cfg.threads)


def _write_item(item: _Loaded, variants: np.ndarray, cfg: BatchConfig) -> dict:
    """Write one object's variants (+ preview) and return its results record."""
    job = item.job
    outputs, checks = {}, {}
    for target, image in zip(job.targets, variants):
        path = variant_path(cfg.out, job, target, cfg.image_format)
        write_image(path, image, cfg.quality)
        outputs[target] = str(path.relative_to(cfg.out))
        if cfg.check:
            checks[target] = cfg.palette.dominant_color(image, item.mask)
    if cfg.preview:
        sheet = contact_sheet(item.image, list(variants), job.targets, job.source,
                              palette=cfg.palette)
        write_image(cfg.out / "previews" / f"{job.id}.png", sheet)
    record = {
        "id": job.id, "image": str(job.image), "source": job.source,
        "targets": list(job.targets), "outputs": outputs,
        "mask_pixels": int(np.count_nonzero(item.mask)), **job.extra,
    }
    if cfg.check:
        record["check"] = checks
    return record


def run_batch(
    jobs: Sequence[Job], cfg: BatchConfig, rejects: Sequence[Reject] = ()
) -> BatchSummary:
    """Recolour every job; bad items are recorded in rejects.jsonl, the rest finish."""
    impl = get_backend(cfg.backend)
    cfg.out.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary(backend=impl.name)
    all_rejects = list(rejects)
    done = set() if cfg.overwrite else finished_ids(cfg)
    todo = [j for j in jobs if j.id not in done]
    summary.resumed = len(jobs) - len(todo)
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="obj", disable=not cfg.progress, desc=f"recolor[{impl.name}]")
    with ThreadPoolExecutor(max(1, cfg.workers)) as pool:
        batches = _batches(todo, cfg.batch_size)
        loading = _submit_loads(pool, next(batches, []))
        writes: list[tuple[_Loaded, Future]] = []
        while loading:
            items = [f.result() for f in loading]
            loading = _submit_loads(pool, next(batches, []))  # prefetch the next batch
            ok = [it for it in items if it.error is None]
            all_rejects += [Reject(it.job.id, it.job.line, it.error, str(it.job.image))
                            for it in items if it.error is not None]
            bar.update(len(items) - len(ok))
            for group in _group_by_k(ok):
                for item, variants in zip(group, _recolor_group(impl, group, cfg)):
                    writes.append((item, pool.submit(_write_item, item, variants, cfg)))
            writes = _collect_writes(writes, cfg, summary, all_rejects, bar,
                                     keep=2 * cfg.batch_size)
        _collect_writes(writes, cfg, summary, all_rejects, bar, keep=0)
    bar.close()
    summary.seconds = time.perf_counter() - start
    summary.rejected = len(all_rejects)
    summary.reject_reasons.update(_reason(r.error) for r in all_rejects)
    _write_run_files(cfg, summary, all_rejects)
    return summary


def _submit_loads(pool: ThreadPoolExecutor, jobs: list[Job]) -> list[Future]:
    return [pool.submit(load_job, j) for j in jobs]


def _group_by_k(items: list[_Loaded]) -> list[list[_Loaded]]:
    """One backend call per number of targets (a call's table is (N, K, P))."""
    groups: dict[int, list[_Loaded]] = {}
    for it in items:
        groups.setdefault(len(it.job.targets), []).append(it)
    return list(groups.values())


def _collect_writes(writes, cfg, summary, rejects, bar, keep: int):
    """Record finished writes in results.jsonl (oldest first) until ``keep`` are pending."""
    while len(writes) > keep:
        item, fut = writes.pop(0)
        try:
            record = fut.result()
        except Exception as e:  # disk full, permissions: reject the item, keep going
            rejects.append(Reject(item.job.id, item.job.line, f"write failed: {e}",
                                  str(item.job.image)))
        else:
            append_jsonl(cfg.out / "results.jsonl", record)
            summary.done += 1
            summary.variants += len(record["outputs"])
            for target, found in record.get("check", {}).items():
                summary.checks[(target, found == target)] += 1
        bar.update(1)
    return writes


def _reason(error: str) -> str:
    text = error.lower()
    for key in ("not found", "malformed json", "unknown colour", "not a decodable",
                "out of bounds", "mask is empty", "missing field"):
        if key in text:
            return key.replace(" ", "-")
    if "does not match" in text or re.search(r"mask is \d+x\d+", text):
        return "mask-size-mismatch"
    return "other"


def _write_run_files(cfg: BatchConfig, summary: BatchSummary, rejects: list[Reject]) -> None:
    lines = "".join(json.dumps(r.to_dict(), sort_keys=True) + "\n" for r in rejects)
    atomic_write_text(cfg.out / "rejects.jsonl", lines)
    atomic_write_json(cfg.out / "summary.json", summary.to_dict())
