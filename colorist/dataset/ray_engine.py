"""``build --engine ray``: the same dataset build, spread over a Ray cluster with Ray Data.

The Ray engine only distributes; every step calls the functions of the local engine
(``colorist.dataset.build``), so the outputs are the same files, byte for byte::

    driver  load the sources; plan the jobs (split by seed, ids, paths: ``plan_jobs``);
            write objects.jsonl, metadata.jsonl, rejects.jsonl, the summaries, the index
    mine    Ray Data tasks, ``--mine-batch`` records each: spaCy batched (``mine_records``)
    mask    actors that open their ONNX Runtime sessions once (``mask_pairs``); only for
            --mask-source grounded-sam|clipseg or --refine-color
    recolour actors (``num_gpus`` each with --gpus-per-worker, else CPU), one shard of
            ``--shard-size`` objects a call (``recolour_pairs``)
    write   tasks: the shard's images linked into OUT/images, its group JSONs, its .tar
            shards (``--format wds``)

Rows are shards, not images: a Ray Data row carries the metadata of ``--shard-size``
objects (a few kB), and each actor reads, recolours and writes that shard's images itself,
``batch_size`` objects at a time (``colorist.recolor.batch``), so memory per actor is
bounded by the recolouring batch and Ray's object store never holds pixels. The number of
shards in flight is bounded by Ray Data's backpressure on the actor pools.

Resume and failures. A shard recolours into its own folder ``OUT/shards/{shard:06d}/``
(results.jsonl, summary.json: the bulk run's resume), and its images are then hard-linked
(copied where links are not supported) to their place in ``OUT/images``. A rerun skips the
finished objects of every shard. A killed worker's shard is retried by Ray (actors are
restarted) and resumes where the killed run stopped. A bad item is a typed reject as in the
local engine; a stage that fails on a whole shard rejects its objects (``internal-error``,
or ``write-failed`` for an OSError while writing) and the other shards finish.

The split of an object, its shard (``(job.line - 1) // shard_size``) and its file names
come from the build order the driver plans, never from which worker ran it. ``OUT`` must be
a folder every node can reach (a shared file system); ``colorist`` must be installed on
every node.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from colorist.dataset import schema, wds
from colorist.dataset.build import (
    BuildConfig,
    check_mask_source,
    mask_pairs,
    mine_records,
    needs_masks,
    plan_jobs,
    recolour_pairs,
    summarize,
    write_group_of,
    write_outputs,
    write_selection,
)
from colorist.dataset.object_masks import build_source
from colorist.dataset.outdir import prepare_out
from colorist.io.atomic import atomic_write_bytes, atomic_write_json
from colorist.recolor.batch import BatchSummary
from colorist.rejects import Reject

SHARDS = "shards"
LAYOUT = "layout.json"


@dataclass
class RayConfig:
    """How the build is spread over Ray (none of it changes the outputs).

    Attributes:
        address: None: start a local Ray of ``num_cpus`` CPUs for this command; ``"auto"``
            or ``HOST:PORT``: join that cluster.
        num_cpus: CPUs of the local Ray (ignored with ``address``).
        workers: recolouring actors (one per GPU on a GPU cluster).
        gpus_per_worker: GPUs each recolouring actor holds (0: CPU actors).
        mask_workers: mask actors (each opens its ONNX Runtime sessions once).
        mine_batch: source records per mining task.
    """

    address: str | None = None
    num_cpus: int = 2
    workers: int = 2
    gpus_per_worker: float = 0.0
    mask_workers: int = 1
    mine_batch: int = 2000


@dataclass
class ShardTask:
    """One shard on its way through the stages (a Ray Data row, pickled).

    Attributes:
        pairs: ``[(object, job)]`` of the shard, in build order.
        outputs: per recoloured object, its variant files relative to the shard folder.
        rows: per built object, its metadata rows.
        wds: the index entries of its .tar shards.
    """

    shard: int
    pairs: list
    mask_rejects: list[Reject] = field(default_factory=list)
    built: list = field(default_factory=list)
    run_rejects: list[Reject] = field(default_factory=list)
    run: BatchSummary | None = None
    outputs: list[dict] = field(default_factory=list)
    rows: list[list[dict]] = field(default_factory=list)
    wds: list[dict] = field(default_factory=list)
    failed: str = ""  # the stage that failed on the whole shard


def shard_folder(out: Path, shard: int) -> Path:
    """``OUT/shards/{shard:06d}``: the shard's recolouring run (results, resume)."""
    return Path(out) / SHARDS / f"{shard:06d}"


def split_shards(pairs: list, shard_size: int) -> list[ShardTask]:
    """The pairs grouped by ``wds.shard_of`` (their place in the build order)."""
    shards: dict[int, list] = {}
    for o, job in pairs:
        shards.setdefault(wds.shard_of(job, shard_size), []).append((o, job))
    return [ShardTask(k, shards[k]) for k in sorted(shards)]


def publish(src: Path, dst: Path) -> None:
    """Put the file ``src`` at ``dst`` atomically: a hard link (no copy, same permissions),
    or a copy where the file system has no links. Nothing to do when ``dst`` is ``src``."""
    if dst.exists() and os.path.samefile(src, dst):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    try:
        tmp.unlink(missing_ok=True)
        os.link(src, tmp)
    except OSError:
        atomic_write_bytes(dst, src.read_bytes())
        return
    os.replace(tmp, dst)


# ---- stages (on Ray workers) ---------------------------------------------------------------

def _payloads(batch: dict) -> list:
    return [pickle.loads(bytes(b)) for b in batch["payload"]]


def _batch(items: list) -> dict:
    return {"payload": np.array([pickle.dumps(x) for x in items], dtype=object)}


def _failed(task: ShardTask, stage: str, error: Exception) -> ShardTask:
    """Every object of a shard whose stage raised, rejected with the error (the other
    shards go on)."""
    reason = "write-failed" if isinstance(error, OSError) and stage == "write" \
        else "internal-error"
    task.run_rejects = [Reject(reason, f"{job.id}: {stage} failed on shard {task.shard} "
                               f"({type(error).__name__}: {error})", job.id,
                               image=str(job.image), context=o.context())
                        for o, job in task.pairs]
    task.built, task.rows, task.wds, task.failed = [], [], [], stage
    return task


def _guarded(stage: str, fn, task: ShardTask) -> ShardTask:
    if task.failed:
        return task
    try:
        return fn(task)
    except Exception as e:  # a bug or a broken node: this shard's objects are rejected
        return _failed(task, stage, e)


def _mine_stage(batch: dict, categories: list[str], cfg: BuildConfig) -> dict:
    """Mining task: ``(k, records)`` -> ``(k, (objects, rejects))``."""
    return _batch([(k, mine_records(records, categories, cfg)) for k, records in
                   _payloads(batch)])


class _MaskStage:
    """Mask actor: the mask source (ONNX Runtime sessions) is opened once per actor."""

    def __init__(self, cfg: BuildConfig) -> None:
        self.cfg = cfg
        self.source = build_source(cfg) if cfg.mask_source != "coco" else None

    def __call__(self, batch: dict) -> dict:
        return _batch([_guarded("mask", self._run, t) for t in _payloads(batch)])

    def _run(self, task: ShardTask) -> ShardTask:
        task.pairs, task.mask_rejects = mask_pairs(task.pairs, self.cfg, self.source)
        return task


class _RecolourStage:
    """Recolouring actor: one shard a call, into the shard's folder (resumable)."""

    def __init__(self, cfg: BuildConfig) -> None:
        self.cfg = cfg

    def __call__(self, batch: dict) -> dict:
        return _batch([_guarded("recolour", self._run, t) for t in _payloads(batch)])

    def _run(self, task: ShardTask) -> ShardTask:
        done = recolour_pairs(task.pairs, self.cfg, shard_folder(self.cfg.out, task.shard))
        task.built, task.run_rejects = done.built, done.rejects
        task.outputs = [done.run.records[j.id]["outputs"] for _, j in task.pairs
                        if j.id in done.run.records]
        task.run = replace(done.run, records={}, rejects=[])
        return task


def _write_stage(batch: dict, cfg: BuildConfig) -> dict:
    """Writing task: the shard's images in OUT/images, group JSONs, .tar shards."""
    return _batch([_guarded("write", lambda t: _write_shard(t, cfg), t)
                   for t in _payloads(batch)])


def _write_shard(task: ShardTask, cfg: BuildConfig) -> ShardTask:
    folder = shard_folder(cfg.out, task.shard)
    for outputs in task.outputs:
        for relative in outputs.values():
            publish(folder / relative, Path(cfg.out) / relative)
    task.rows = [write_group_of(o, job, cfg.out) for o, job in task.built]
    if cfg.format == "wds":
        task.wds = wds.pack_shard(cfg.out, task.shard, task.rows)
    return task


# ---- driver ------------------------------------------------------------------------------

def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail in seconds, naming ``--address``, when HOST:PORT takes no TCP connection (Ray
    itself retries an unreachable GCS for minutes). ``auto`` and ``ray://`` are left to Ray."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise schema.DatasetError(
            f"--address {address!r}: expected 'auto', HOST:PORT or ray://...")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise schema.DatasetError(
            f"--address {address}: no Ray cluster reachable there ({e})") from e


@contextmanager
def ray_session(rcfg: RayConfig) -> Iterator[None]:
    """Ray for the build: the running one (tests, notebooks), the cluster at
    ``rcfg.address``, or a local Ray of ``rcfg.num_cpus`` CPUs, shut down afterwards."""
    import ray

    if ray.is_initialized():
        yield
        return
    if rcfg.address:
        _check_reachable(rcfg.address)
        try:
            ray.init(address=rcfg.address)
        except ConnectionError as e:  # not "disk full": name the flag
            raise schema.DatasetError(
                f"--address {rcfg.address}: cannot join a Ray cluster ({e})") from e
    else:
        ray.init(num_cpus=rcfg.num_cpus, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()


def _dataset(items: list):
    import ray.data

    return ray.data.from_items([{"payload": pickle.dumps(x)} for x in items],
                               override_num_blocks=max(1, len(items)))


def _collect(ds) -> list:
    return [pickle.loads(bytes(row["payload"])) for row in ds.iter_rows()]


def _worker_config(cfg: BuildConfig) -> BuildConfig:
    """What the workers need of the config (no source problems, no progress bars)."""
    return replace(cfg, source_problems=[], progress=False, n_process=1)


def mine_on_ray(records: list, categories: list[str], cfg: BuildConfig, rcfg: RayConfig):
    """``mine_records`` over batches of records on Ray tasks: ``(objects, rejects)`` in
    record order (the same as one call on all records). Up to one batch is mined here."""
    step = rcfg.mine_batch
    chunks = [(k, records[i : i + step]) for k, i in enumerate(range(0, len(records), step))]
    if len(chunks) <= 1:  # one task's worth: a worker would only add its start-up
        return mine_records(records, categories, replace(cfg, progress=False))
    ds = _dataset(chunks).map_batches(
        _mine_stage, batch_size=1, num_cpus=1,
        fn_kwargs={"categories": list(categories), "cfg": _worker_config(cfg)})
    results = sorted(_collect(ds), key=lambda kv: kv[0])
    return ([o for _, (objects, _) in results for o in objects],
            [r for _, (_, rejects) in results for r in rejects])


def recolour_on_ray(tasks: list[ShardTask], cfg: BuildConfig, rcfg: RayConfig):
    """Every shard through the mask (when needed), recolour and write stages; the shards
    in order."""
    if not tasks:
        return []
    from ray.data import ActorPoolStrategy, TaskPoolStrategy

    wcfg = _worker_config(cfg)
    ds = _dataset(tasks)
    if needs_masks(cfg):
        ds = ds.map_batches(_MaskStage, batch_size=1, num_cpus=1,
                            compute=ActorPoolStrategy(size=min(rcfg.mask_workers, len(tasks))),
                            fn_constructor_kwargs={"cfg": wcfg})
    gpus = {"num_gpus": rcfg.gpus_per_worker} if rcfg.gpus_per_worker else {}
    # One shard in flight per actor: a shard is minutes of work, queueing more on an actor
    # only delays the others (and a killed actor's queue is retried as a whole).
    ds = ds.map_batches(_RecolourStage, batch_size=1, num_cpus=1, fn_constructor_kwargs={
        "cfg": wcfg}, compute=ActorPoolStrategy(size=min(rcfg.workers, len(tasks)),
                                                max_tasks_in_flight_per_actor=1), **gpus)
    # Writing is file I/O: no CPU reserved (it runs beside the actors), a bounded number.
    ds = ds.map_batches(_write_stage, batch_size=1, num_cpus=0, fn_kwargs={"cfg": wcfg},
                        compute=TaskPoolStrategy(size=max(1, rcfg.workers)))
    return sorted(_collect(ds), key=lambda t: t.shard)


def merge_runs(runs: list[BatchSummary], backend: str, seconds: float) -> BatchSummary:
    """The shards' run summaries as one (counts and stage seconds summed)."""
    total = BatchSummary(backend=runs[0].backend if runs else backend, seconds=seconds)
    for r in runs:
        total.done, total.resumed = total.done + r.done, total.resumed + r.resumed
        total.rejected, total.variants = total.rejected + r.rejected, total.variants + r.variants
        total.write_failed += r.write_failed
        total.checks.update(r.checks)
        total.reject_reasons.update(r.reject_reasons)
        for target, entries in r.check_figures.items():
            total.check_figures.setdefault(target, []).extend(entries)
        for stage, s in r.stage_seconds.items():
            total.stage_seconds[stage] = total.stage_seconds.get(stage, 0.0) + s
        total.run_files_error = total.run_files_error or r.run_files_error
    total.stage_seconds["wall"] = seconds
    return total


def _check_layout(cfg: BuildConfig) -> None:
    """A rerun must cut the shards as before (their folders hold the resume state).

    Raises:
        ValueError: ``OUT/shards`` was made with another ``--shard-size``.
    """
    path = Path(cfg.out) / SHARDS / LAYOUT
    if path.is_file():
        try:
            size = json.loads(path.read_text(encoding="utf-8")).get("shard_size")
        except (OSError, ValueError, AttributeError):
            size = None
        if size != cfg.shard_size:
            raise ValueError(f"{cfg.out / SHARDS} was built with --shard-size {size}; rerun "
                             f"with --shard-size {size}, or --rebuild")
        return
    atomic_write_json(path, {"shard_size": cfg.shard_size})


def build_ray(records, categories, cfg: BuildConfig, rcfg: RayConfig) -> dict:
    """``colorist.dataset.build.build`` on Ray: the same files in ``cfg.out``, plus the
    shards' folders in ``OUT/shards/`` and a merged ``summary.json``.

    Raises:
        ValueError: as ``build``, or another shard size than the folder's.
    """
    check_mask_source(cfg)
    start = time.perf_counter()
    prepare_out(cfg)
    _check_layout(cfg)
    with ray_session(rcfg):
        _quiet_ray(cfg.progress)
        objects, rejected = mine_on_ray(records, categories, cfg, rcfg)
        rejected = [*cfg.source_problems, *rejected]
        write_selection(cfg.out, objects, rejected)
        pairs, path_rejects = plan_jobs(objects, cfg)
        tasks = recolour_on_ray(split_shards(pairs, cfg.shard_size), cfg, rcfg)
    rejected += [*path_rejects, *(r for t in tasks for r in t.mask_rejects),
                 *(r for t in tasks for r in t.run_rejects)]
    seconds = time.perf_counter() - start
    run = merge_runs([t.run for t in tasks if t.run is not None], cfg.backend, seconds)
    built = [pair for t in tasks for pair in t.built]
    summary = summarize(built, rejected, seconds, run)
    summary["write_failed"] += sum(len(t.pairs) for t in tasks if t.failed == "write")
    write_outputs(cfg, rejected, summary, lambda: _write_driver(cfg, tasks, run))
    return summary


def _write_driver(cfg: BuildConfig, tasks: list[ShardTask], run: BatchSummary) -> None:
    schema.write_metadata(cfg.out, schema.rows_by_split([r for t in tasks for r in t.rows]))
    if cfg.format == "wds":
        wds.write_index(cfg.out, [e for t in tasks for e in t.wds])
    atomic_write_json(Path(cfg.out) / "summary.json", run.to_dict())


def _quiet_ray(progress: bool) -> None:
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = progress
    ctx.print_on_execution_start = progress
