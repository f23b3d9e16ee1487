"""The overlapped three-stage scheduler of the bulk run, its stage clock, and the colour
check strategies (full images on host backends, sampled pixels on GPU ones).

Consecutive batches move through three stages at once::

    pool:  load batch i+1 (read, decode, rasterise masks)
    main:  recolour batch i (device decode, pre-pass + plan, prepare, kernel; GPU backends:
           batch encode and the check's pixel gather)
    pool:  post batch i-1 (check, encode, write each object), then main: finish it (its
           results lines in job order, one fsync)

The main thread finishes batch i-1 only after it has recoloured batch i, and loads batch
i+1 only once batch i arrived, so at most three batches are in flight (memory stays
bounded by the batch size). The cpu kernel and OpenCV release the GIL, so the stages run
on the cores side by side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

from colorist.quality import check_sampled, check_variants

# Masked pixels sampled per variant for the colour check on the GPU path.
CHECK_SAMPLES = 4096


class StageClock:
    """Seconds spent per stage, summed over the threads that ran it (thread-safe).

    Pool stages run on several threads at once, so their sums may exceed the wall time;
    ``wait_*`` stages are the main thread blocked on another stage (the limiting one)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def _submit(pool: ThreadPoolExecutor, fn: Callable, items: Sequence) -> list[Future]:
    return [pool.submit(fn, x) for x in items]


def run_stages(batches: Iterable[Sequence], pool: ThreadPoolExecutor, load: Callable,
               recolour: Callable, post: Callable, finish: Callable,
               clock: StageClock) -> None:
    """Run every batch through the three stages (see the module docstring).

    Args:
        batches: lists of jobs.
        load: ``job -> item`` (on the pool; never raises for a bad item).
        recolour: ``items -> tasks`` (main thread), one task per object to post.
        post: ``task -> result`` (on the pool).
        finish: ``[(task, future)]`` of one batch (not empty), in job order (main thread).
    """
    batches = iter(batches)
    try:
        loading = _submit(pool, load, next(batches, []))
        posting: list[tuple[Any, Future]] = []
        while loading:
            with clock("wait_load"):
                items = [f.result() for f in loading]
            loading = _submit(pool, load, next(batches, []))  # batch i+1 while i recolours
            tasks = _recolour(recolour, items, posting, finish)
            previous, posting = posting, [(t, pool.submit(post, t)) for t in tasks]
            if previous:
                finish(previous)  # batch i-1 (posted while batch i was recoloured)
        if posting:
            finish(posting)
    except BaseException:  # a crash or an interrupt: drop the queued work, keep none waiting
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def _recolour(recolour: Callable, items: list, posting: list, finish: Callable) -> list:
    """``recolour(items)``; when it raises, batch i-1 (posted already) is finished first,
    so what it wrote is recorded and a rerun does not redo it."""
    try:
        return recolour(items)
    except BaseException:
        if posting:
            finish(posting)
        raise


# ---- the colour check, by backend kind ---------------------------------------------------


class FullCheck:
    """Host backends: ``check_variants`` on the whole images, on the pool."""

    def gather(self, group: list, outs: list) -> list:
        """Main thread: what ``judge`` needs of each object: its variants as they are."""
        return outs

    def judge(self, item: Any, variants: np.ndarray) -> dict:
        job = item.job
        return check_variants(item.image, item.mask, job.source, dict(zip(job.targets,
                                                                           variants)))


class SampledCheck:
    """GPU backends: ``check_sampled`` from up to ``CHECK_SAMPLES`` object pixels of the
    original and of each variant, gathered on the device and copied in one transfer."""

    def gather(self, group: list, outs: list) -> list[np.ndarray]:
        """Main thread: ``(K + 1, n, 3)`` uint8 sampled pixels per object."""
        import torch

        gathered, sizes = [], []
        for item, out in zip(group, outs):
            idx = np.flatnonzero(item.mask.reshape(-1))
            if len(idx) > CHECK_SAMPLES:
                idx = idx[np.linspace(0, len(idx) - 1, CHECK_SAMPLES).astype(np.int64)]
            k, h, w, _ = out.shape
            at = torch.from_numpy(idx).to(out.device)
            original = torch.as_tensor(item.image, device=out.device).reshape(1, h * w, 3)
            gathered.append(torch.cat([original, out.reshape(k, h * w, 3)])[:, at])
            sizes.append((k + 1) * len(idx))
        pixels = torch.cat([g.reshape(-1, 3) for g in gathered]).cpu().numpy()
        ends = np.cumsum(sizes)[:-1]
        return [px.reshape(g.shape[0], g.shape[1], 3)
                for px, g in zip(np.split(pixels, ends), gathered)]

    def judge(self, item: Any, pixels: np.ndarray) -> dict:
        job = item.job
        return check_sampled(pixels[0], dict(zip(job.targets, pixels[1:])), job.source)


def checker_for(backend: Any) -> FullCheck | SampledCheck:
    """The colour check of a backend's kind (``colorist.recolor.backends.Backend``)."""
    return SampledCheck() if backend.on_gpu else FullCheck()
