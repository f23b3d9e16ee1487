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

With a GPU backend (``triton``, ``cuda``) the bulk path stays on the device: the pool reads
file bytes and rasterises masks (JPEG sizes come from the frame header), JPEGs are decoded
in one nvJPEG call per batch, the batch is packed once (pinned host memory for the masks),
recoloured by one kernel launch, and the variants are encoded by one GPU JPEG call; only
compressed bytes, masks and a few thousand sampled pixels for the colour check cross
PCIe. Without torchvision's GPU codecs the same path decodes/encodes with OpenCV.
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
from typing import Any

import numpy as np
from tqdm import tqdm

from colorist.io.atomic import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_jsonl,
)
from colorist.io.device_codec import DeviceCodec, jpeg_size
from colorist.io.images import (
    ImageReadError,
    decode_image,
    read_image,
    read_image_bytes,
    write_image,
)
from colorist.io.masks import MaskError, mask_from_coco, read_mask_png, require_nonempty
from colorist.io.names import safe_name
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
    # Variant file name (without suffix); fields: id, target, and the job's extra fields.
    name_template: str = "{id}_{target}"


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
    image: Any = None  # (H, W, 3) uint8: numpy, or a device tensor on the GPU path
    mask: np.ndarray | None = None
    error: str | None = None
    data: bytes | None = None  # GPU path: encoded bytes still to decode on the device

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


def _job_mask(job: Job, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(job.mask, Path):
        mask = read_mask_png(job.mask, shape)
    else:
        mask = mask_from_coco(job.mask, shape)
    return require_nonempty(mask, f"{job.id}")


def load_job(job: Job) -> _Loaded:
    """Decode the image and rasterise the mask; errors are returned, never raised."""
    try:
        image = read_image(job.image)
        return _Loaded(job, image, _job_mask(job, image.shape[:2]))
    except (ImageReadError, MaskError) as e:
        return _Loaded(job, error=str(e))
    except Exception as e:  # a bad item must never stop the batch
        return _Loaded(job, error=f"{type(e).__name__}: {e}")


def load_job_for_gpu(job: Job) -> _Loaded:
    """GPU path: read the bytes and rasterise the mask; a JPEG's decode waits for the
    device (its size comes from the header), anything else is decoded here."""
    try:
        data = read_image_bytes(job.image)
        size = jpeg_size(data)
        if size is None:
            image = decode_image(data, str(job.image))
            return _Loaded(job, image, _job_mask(job, image.shape[:2]))
        return _Loaded(job, mask=_job_mask(job, size), data=data)
    except (ImageReadError, MaskError) as e:
        return _Loaded(job, error=str(e))
    except Exception as e:
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


def _record(item: _Loaded, outputs: dict, checks: dict, cfg: BatchConfig) -> dict:
    job = item.job
    record = {
        "id": job.id, "image": str(job.image), "source": job.source,
        "targets": list(job.targets), "outputs": outputs,
        "mask_pixels": int(np.count_nonzero(item.mask)), **job.extra,
    }
    if cfg.check:
        record["check"] = checks
    return record


def _write_preview(item: _Loaded, original: np.ndarray, variants, cfg: BatchConfig) -> None:
    sheet = contact_sheet(original, list(variants), item.job.targets, item.job.source,
                          palette=cfg.palette)
    write_image(cfg.out / "previews" / f"{item.job.id}.png", sheet)


def _write_item(item: _Loaded, variants: np.ndarray, cfg: BatchConfig) -> dict:
    """Write one object's variants (+ preview) and return its results record."""
    job = item.job
    outputs, checks = {}, {}
    for target, image in zip(job.targets, variants):
        path = variant_path(cfg.out, job, target, cfg.image_format, cfg.name_template)
        write_image(path, image, cfg.quality)
        outputs[target] = str(path.relative_to(cfg.out))
        if cfg.check:
            checks[target] = cfg.palette.dominant_color(image, item.mask)
    if cfg.preview:
        _write_preview(item, item.image, variants, cfg)
    return _record(item, outputs, checks, cfg)


def _write_encoded(item: _Loaded, blobs: list[bytes], checks: dict, preview, cfg) -> dict:
    """GPU path: write one object's already encoded variants (+ preview)."""
    outputs = {}
    for target, blob in zip(item.job.targets, blobs):
        path = variant_path(cfg.out, item.job, target, cfg.image_format,
                            cfg.name_template)
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
            it.error = str(image)
        elif tuple(image.shape[:2]) != it.mask.shape:
            it.error = (f"{it.job.image}: decoded size {tuple(image.shape[:2])} differs from "
                        f"the JPEG header's {it.mask.shape}")
        else:
            it.image = image


def _sampled_checks(group: list[_Loaded], outs: list, cfg: BatchConfig) -> list[dict]:
    """Dominant colour of each variant from up to CHECK_SAMPLES masked pixels, gathered on
    the device and copied to the host in one transfer."""
    import torch

    gathered, sizes = [], []
    for item, out in zip(group, outs):
        idx = np.flatnonzero(item.mask.reshape(-1))
        if len(idx) > CHECK_SAMPLES:
            idx = idx[np.linspace(0, len(idx) - 1, CHECK_SAMPLES).astype(np.int64)]
        k, h, w, _ = out.shape
        flat = out.reshape(k, h * w, 3)
        gathered.append(flat[:, torch.from_numpy(idx).to(out.device)].reshape(-1, 3))
        sizes.append((k, len(idx)))
    pixels = torch.cat(gathered).cpu().numpy()
    checks, offset = [], 0
    for item, (k, n) in zip(group, sizes):
        px = pixels[offset : offset + k * n].reshape(k, n, 1, 3)
        offset += k * n
        checks.append({t: cfg.palette.dominant_color(px[j]) for j, t in
                       enumerate(item.job.targets)})
    return checks


def _recolor_group_on_device(impl, group, cfg, codec, pool) -> list[tuple[_Loaded, Future]]:
    """Pack, recolour and encode a group on the device; the writes go to the pool."""
    batch = impl.pack([it.image for it in group], [it.mask for it in group])
    params = plan_objects(
        impl, batch, None, [it.job.source for it in group],
        [list(it.job.targets) for it in group], cfg.palette, cfg.threads, cfg.fit_source,
    )
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


def run_batch(
    jobs: Sequence[Job], cfg: BatchConfig, rejects: Sequence[Reject] = ()
) -> BatchSummary:
    """Recolour every job; bad items are recorded in rejects.jsonl, the rest finish."""
    impl = get_backend(cfg.backend)
    codec = DeviceCodec(impl.device()) if impl.on_gpu else None
    loader = load_job_for_gpu if impl.on_gpu else load_job
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
        loading = _submit_loads(pool, next(batches, []), loader)
        writes: list[tuple[_Loaded, Future]] = []
        while loading:
            items = [f.result() for f in loading]
            loading = _submit_loads(pool, next(batches, []), loader)  # prefetch the next
            if codec is not None:
                _decode_on_device(items, codec)
            ok = [it for it in items if it.error is None]
            all_rejects += [Reject(it.job.id, it.job.line, it.error, str(it.job.image))
                            for it in items if it.error is not None]
            bar.update(len(items) - len(ok))
            for group in _group_by_k(ok):
                if codec is not None:
                    writes += _recolor_group_on_device(impl, group, cfg, codec, pool)
                    continue
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


def _submit_loads(pool: ThreadPoolExecutor, jobs: list[Job], loader) -> list[Future]:
    return [pool.submit(loader, j) for j in jobs]


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
