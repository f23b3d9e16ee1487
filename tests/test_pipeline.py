"""The overlapped bulk pipeline (colorist.recolor.pipeline, colorist.recolor.batch): results
lines in job order, a crashed run that resumes to the bytes of an uninterrupted one, one
fsync of results.jsonl a batch, at most three batches in flight, the stage clock."""

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import cv2
import numpy as np
import pytest

from colorist.io import read_jsonl
from colorist.recolor import available_backends
from colorist.recolor import batch as batch_mod
from colorist.recolor.backends import get_backend
from colorist.recolor.batch import BatchConfig, run_batch
from colorist.recolor.jobs import read_jobs
from colorist.recolor.pipeline import StageClock, run_stages
from colorist.recolor.plan import plan_batch

HOST = "cpu" if "cpu" in available_backends() else "reference"
TARGETS = ["blue", "green", "yellow"]


class Crash(BaseException):
    """A crash (not an item's error): nothing in the pipeline may catch it."""


def red_object(seed: int, h: int = 36, w: int = 44) -> np.ndarray:
    """A red rectangle on a noisy grey background (RGB), a little different per seed."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 120, np.uint8) + rng.integers(0, 10, (h, w, 3), dtype=np.uint8)
    img[6:30, 8:38] = (190 + seed % 40, 30, 25)
    return img


def make_jobs(root, n: int, ks=(3,)):
    """``n`` jobs over 4 JPEGs; job i has ``ks[i % len(ks)]`` targets."""
    for i in range(4):
        cv2.imwrite(str(root / f"im{i}.jpg"), cv2.cvtColor(red_object(i), cv2.COLOR_RGB2BGR))
    poly = [[8, 6, 37, 6, 37, 29, 8, 29]]
    lines = [json.dumps({"id": f"o{i:02d}", "image": f"im{i % 4}.jpg", "mask": poly,
                         "source": "red", "targets": TARGETS[: ks[i % len(ks)]]})
             for i in range(n)]
    (root / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    jobs, rejects = read_jobs(root / "jobs.jsonl")
    assert not rejects
    return jobs


def config(out, **kw) -> BatchConfig:
    return BatchConfig(out=out, **{"backend": HOST, "batch_size": 3, "workers": 4,
                                   "progress": False, **kw})


def folder_bytes(out) -> dict:
    """results.jsonl and every image file of an output folder, as bytes."""
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "images").rglob("*")}
    return {**files, "results.jsonl": (out / "results.jsonl").read_bytes()}


def test_results_follow_the_job_order_with_slow_posts_and_mixed_k(tmp_path, monkeypatch):
    jobs = make_jobs(tmp_path, 11, ks=(3, 1))  # two backend calls a batch, interleaved
    real = batch_mod._BulkRun.post

    def post(self, task):  # the first object of each batch finishes last
        if int(task.item.job.id[1:]) % 3 == 0:
            time.sleep(0.05)
        return real(self, task)

    monkeypatch.setattr(batch_mod._BulkRun, "post", post)
    summary = run_batch(jobs, config(tmp_path / "out"))
    assert summary.done == 11
    assert [r["id"] for r in read_jsonl(tmp_path / "out" / "results.jsonl")] == [
        j.id for j in jobs]


@pytest.mark.parametrize("where", ["write", "recolour"])
def test_a_crash_after_batch_2_resumes_to_the_bytes_of_an_uninterrupted_run(
        tmp_path, monkeypatch, where):
    jobs = make_jobs(tmp_path, 11)
    run_batch(jobs, config(tmp_path / "whole"))
    if where == "write":  # the writer of the first object of batch 3
        real = batch_mod._write_variants

        def patched(item, blobs, cfg):
            if item.job.id == "o06":
                raise Crash
            return real(item, blobs, cfg)

        monkeypatch.setattr(batch_mod, "_write_variants", patched)
    else:  # the main stage of batch 3
        real = batch_mod.plan_objects
        calls = iter(range(100))

        def patched(*args, **kw):
            if next(calls) == 2:
                raise Crash
            return real(*args, **kw)

        monkeypatch.setattr(batch_mod, "plan_objects", patched)
    out = tmp_path / "crashed"
    with pytest.raises(Crash):
        run_batch(jobs, config(out))
    assert [r["id"] for r in read_jsonl(out / "results.jsonl")] == [j.id for j in jobs[:6]]
    monkeypatch.undo()
    summary = run_batch(jobs, config(out))
    assert (summary.resumed, summary.done) == (6, 5)
    assert folder_bytes(out) == folder_bytes(tmp_path / "whole")
    assert not list(out.rglob("*.tmp"))


def test_results_are_fsynced_once_a_batch_after_its_lines(tmp_path, monkeypatch):
    jobs = make_jobs(tmp_path, 7)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    bad = replace(jobs[0], id="bad", image=tmp_path / "bad.jpg")
    out = tmp_path / "out"
    lines_at_sync = []
    real = os.fsync

    def fsync(fd):
        lines_at_sync.append((out / "results.jsonl").read_text().count("\n"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    # batches: o00-o02 | o03 o04 bad | o05 o06: one sync each, after the batch's lines
    summary = run_batch([*jobs[:5], bad, *jobs[5:]], config(out))
    assert summary.done == 7 and summary.rejected == 1
    assert lines_at_sync == [3, 5, 7]


def test_at_most_three_batches_are_in_flight_and_finished_in_order():
    lock, state = threading.Lock(), {"live": 0, "most": 0}
    finished = []

    def load(x):
        with lock:
            state["live"] += 1
            state["most"] = max(state["most"], state["live"])
        return x

    def post(x):
        time.sleep(0.01 * (x % 3 == 0))
        return x

    def finish(posted):
        finished.append([f.result() for _, f in posted])
        with lock:
            state["live"] -= len(posted)

    batches = [list(range(i, i + 4)) for i in range(0, 40, 4)]
    with ThreadPoolExecutor(4) as pool:
        run_stages(batches, pool, load, lambda items: items, post, finish, StageClock())
    assert [x for b in finished for x in b] == list(range(40))
    assert [len(b) for b in finished] == [4] * 10
    assert state["most"] <= 3 * 4


def test_summary_reports_seconds_per_stage(tmp_path):
    jobs = make_jobs(tmp_path, 4)
    run_batch(jobs, config(tmp_path / "out"))
    stages = json.loads((tmp_path / "out" / "summary.json").read_text())["stage_seconds"]
    expected = {"decode", "prepass", "kernel", "check", "encode", "write", "results",
                "wait_load", "wait_post", "wall"}
    assert expected <= set(stages) and all(v >= 0 for v in stages.values())
    assert stages["wall"] > 0


def test_prepare_then_run_prepared_is_run_on_host_backends():
    impl = get_backend(HOST)
    image = red_object(0)
    alpha = np.zeros(image.shape[:2], np.uint8)
    alpha[6:30, 8:38] = 255
    params = plan_batch(["red"], [["blue"]])
    batch = impl.prepare([image], [alpha])
    assert batch[0][0] is image and batch[1][0] is alpha  # host backends: as they are
    got = impl.run_prepared(batch, params, 1)
    assert np.array_equal(got[0], impl.run([image], [alpha], params, 1)[0])
    assert not np.array_equal(got[0][0], image)  # it did recolour


def test_bench_e2e_prints_images_per_second_and_the_stage_profile(capsys):
    from bench import e2e

    e2e.main(["--images", "2", "--k", "1", "--batch-size", "1", "--backend", HOST,
              "--profile"])
    first, *table = capsys.readouterr().out.splitlines()
    row = json.loads(first)
    assert row["output_images"] == 2 and row["output_images_per_s"] > 0
    stages = [line.split()[0] for line in table[1:]]
    assert {"decode", "prepass", "kernel", "check", "encode", "write", "wall"} <= set(stages)
