"""``build --engine ray`` on a local Ray (2 CPUs): the same files as the local engine, a bad
item recorded without stopping the job, a killed worker's shard retried, resume per shard,
a killed command (its own Ray with it) resumed by a rerun, WebDataset shards that
``webdataset`` and HF ``datasets`` read."""

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from PIL import Image

pytest.importorskip("spacy")
ray = pytest.importorskip("ray")
from colorist.dataset.__main__ import main  # noqa: E402
from colorist.io import read_jsonl  # noqa: E402
from colorist.recolor.resume import finished_records  # noqa: E402

from .conftest import COCO_MINI  # noqa: E402

CAPS = COCO_MINI / "annotations" / "captions_train2017.json"
INST = COCO_MINI / "annotations" / "instances_train2017.json"
BROKEN = "000000525891.jpg"  # the stop sign's image, made undecodable
# Files of a run, not of the dataset: timings, the run's own manifests, the Ray work area.
RUN_FILES = {"dataset_summary.json", "summary.json", "results.jsonl", "batch_config.json"}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for p in (COCO_MINI / "images").iterdir():
        shutil.copy(p, folder / p.name)
    (folder / BROKEN).write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return folder


def _build(images, out, *flags):
    """--refine-color: the mask step runs (on mask actors with --engine ray)."""
    return main(["build", "--captions", str(CAPS), "--instances", str(INST), "--out", str(out),
                 "--images", str(images), "--backend", "cpu", "--quiet", "--workers", "2",
                 "--refine-color", *flags])


@pytest.fixture(scope="module")
def local_build(images, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    assert _build(images, out, "--format", "wds", "--shard-size", "3") == 0
    return out


@pytest.fixture(scope="module")
def ray_build(local_ray, images, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray")
    # --mine-batch 20: the 47 records are mined by 3 Ray tasks
    assert _build(images, out, "--format", "wds", "--shard-size", "3", "--engine", "ray",
                  "--mine-batch", "20") == 0
    return out


def _hashes(root, skip_wds=False):
    """sha256 of every dataset file under ``root`` (not the run files, not OUT/shards);
    ``skip_wds``: nor the .tar shards and the settings (which name the format)."""
    skip = RUN_FILES | ({"build_config.json"} if skip_wds else set())
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if (p.is_file() and p.name not in skip and not rel.startswith("shards/")
                and not (skip_wds and rel.startswith("wds/"))):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _counts(root):
    summary = json.loads((root / "dataset_summary.json").read_text())
    return {k: v for k, v in summary.items() if k != "seconds"}


def test_ray_build_writes_the_local_build_byte_for_byte(local_build, ray_build):
    local = _hashes(local_build)
    # 6 objects built: 4 complementary (4 colours), 2 main (8); the dog's yellow is not found
    assert len([n for n in local if n.endswith(".jpg")]) == 4 * 4 + 2 * 8
    assert len([n for n in local if n.startswith("masks/coco-refined/")]) == 6
    assert _hashes(ray_build) == local
    assert _counts(ray_build) == _counts(local_build)
    # a mask-stage reject and the broken image, typed, in the local order; the job went on
    rejects = [r for r in read_jsonl(ray_build / "rejects.jsonl") if r.get("id")]
    assert [(r["id"], r["reason"]) for r in rejects] == [
        ("train_30752_dog", "refine-color-not-found"),
        ("val_525891_stop-sign", "image-undecodable")]
    assert BROKEN in rejects[1]["error"]
    run = json.loads((ray_build / "summary.json").read_text())
    assert run["done"] == 6 and run["resumed"] == 0 and run["backend"] == "cpu"
    shards = sorted(p.name for p in (ray_build / "shards").iterdir() if p.is_dir())
    assert shards == ["000000", "000001", "000002"]  # 8 objects, 3 a shard
    linked = ray_build / "images" / "train" / "train_234748_blue_car.jpg"
    assert os.path.samefile(linked, ray_build / "shards" / "000001" / "images" / "train" /
                            linked.name)


def test_webdataset_shards_read_with_webdataset_and_datasets(ray_build):
    import webdataset

    from colorist.dataset.wds import shard_urls

    index = json.loads((ray_build / "wds" / "index.json").read_text())
    train = index["splits"]["train"]
    urls = shard_urls(ray_build, "train")
    samples = list(webdataset.WebDataset(urls, shardshuffle=False, empty_check=False))
    assert len(samples) == sum(e["samples"] for e in train) == 8 * 2
    meta = read_jsonl(ray_build / "images" / "train" / "metadata.jsonl")
    first = samples[0]
    row = json.loads(first["json"])
    assert row == meta[0]  # the metadata row, in the same order
    assert first["jpg"] == (ray_build / "images" / "train" / row["file_name"]).read_bytes()
    groups = [json.loads(s["json"])["group"] for s in samples]
    assert groups == sorted(groups, key=groups.index)  # a group's variants are consecutive

    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("webdataset", data_files={"train": urls}, split="train")
    assert ds.num_rows == 16 and {"jpg", "json"} <= set(ds.column_names)
    assert ds[0]["json"] == meta[0]
    assert ds[0]["jpg"].size == Image.open(io.BytesIO(first["jpg"])).size


def _recolour_workers():
    import psutil

    return [p for p in psutil.process_iter(["pid", "cmdline"])
            if "_RecolourStage" in " ".join(p.info["cmdline"] or [])]


def test_a_killed_worker_is_retried_and_a_rerun_resumes_per_shard(local_ray, local_build,
                                                                   images, tmp_path, capsys):
    out = tmp_path / "ray"
    flags = ("--shard-size", "1", "--engine", "ray", "--ray-workers", "1")
    result = {}
    run = threading.Thread(target=lambda: result.setdefault("rc", _build(images, out, *flags)))
    run.start()
    deadline, killed = time.monotonic() + 120, None
    while killed is None and run.is_alive() and time.monotonic() < deadline:
        done = list((out / "shards").glob("*/results.jsonl"))
        workers = _recolour_workers()
        if done and workers:  # one shard finished: the actor is on the next one
            killed = workers[0].pid
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    run.join()
    assert killed is not None and result["rc"] == 0
    assert _hashes(out, skip_wds=True) == _hashes(local_build, skip_wds=True)
    # as if a run had been killed before the car's files (shard 3 of 8) were all written
    victim = out / "images" / "train" / "train_234748_red_car.jpg"
    victim.unlink()
    (out / "shards" / "000003" / "images" / "train" / victim.name).unlink()
    assert _build(images, out, *flags) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed"] == 5 and summary["done"] == 1
    assert _hashes(out, skip_wds=True) == _hashes(local_build, skip_wds=True)
    # the shards hold the resume state: another cut of them is refused before Ray starts
    assert _build(images, out, "--shard-size", "2", "--engine", "ray") == 2
    assert "built with --shard-size 1" in capsys.readouterr().err


def _command(images, out, *flags):
    """``_build``'s arguments as the command a user runs."""
    return [sys.executable, "-m", "colorist.dataset", "build", "--captions", str(CAPS),
            "--instances", str(INST), "--out", str(out), "--images", str(images), "--backend",
            "cpu", "--quiet", "--workers", "2", "--refine-color", *flags]


def _session(sid):
    """The live processes of session ``sid`` (a zombie is dead, only not reaped yet)."""
    import psutil

    alive = []
    for p in psutil.process_iter(["status"]):
        try:
            if os.getsid(p.pid) == sid and p.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except OSError:  # gone meanwhile
            pass
    return alive


def _kill_session(proc):
    """SIGKILL the command and every process it started: its process group, then the rest of
    its session (Ray's workers lead process groups of their own); wait until none is left.
    Returns the names of the processes it had started."""
    import psutil

    tree = psutil.Process(proc.pid).children(recursive=True)  # gcs_server, raylet, workers
    names = set()
    for p in tree:
        with contextlib.suppress(psutil.Error):
            names.add(p.name())
    os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (left := _session(proc.pid)) and time.monotonic() < deadline:
        for p in left:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        time.sleep(0.1)
    assert not _session(proc.pid)
    proc.wait(timeout=30)  # reaped only now: until then its pid (the session id) is not reused
    for p in tree:  # also any that left the session
        with contextlib.suppress(psutil.NoSuchProcess):
            assert p.status() == psutil.STATUS_ZOMBIE, f"{p} of the killed run is alive"
    return names


def _recoloured(out):
    """``[(shard folder, file)]`` of the objects finished in the shards' folders (their
    results line written, their files on disk): what a rerun resumes instead of redoing."""
    return [(folder.relative_to(out).as_posix(), rel)
            for folder in sorted((out / "shards").glob("[0-9]*"))
            for rec in finished_records(folder).values() for rel in rec["outputs"].values()]


def _temporaries(out):
    """Files of unfinished atomic writes (``.NAME.*.tmp``, ``.NAME.PID.link``)."""
    return [p.relative_to(out).as_posix() for p in out.rglob("*")
            if p.name.startswith(".") or p.suffix in {".tmp", ".part", ".link"}]


def _stamps(out, files):
    return {f"{folder}/{rel}": (st.st_ino, st.st_mtime_ns) for folder, rel in files
            for st in [(out / folder / rel).stat()]}


def test_a_killed_build_command_resumes_where_it_stopped(local_ray, local_build, images,
                                                          tmp_path, capsys):
    """The whole command (driver, its own local Ray, the actors) SIGKILLed once a shard has
    finished; the rerun keeps the finished objects' files, redoes the rest, and ends with
    the local build's files and no temporary ones."""
    out, log = tmp_path / "ray", tmp_path / "killed.log"
    flags = ("--shard-size", "1", "--engine", "ray", "--ray-workers", "1", "--num-cpus", "2")
    env = {**os.environ, "RAY_ADDRESS": "local"}  # its own Ray, not this process's
    with open(log, "wb") as f:
        proc = subprocess.Popen(_command(images, out, *flags), stdout=f, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    tree, finished = set(), []
    try:
        deadline = time.monotonic() + 240
        # one object a shard, one shard at a time (8 shards, 2 of them all rejected): the
        # kill lands as soon as one shard's run is over (its summary.json), well before the
        # last one's
        while not finished and proc.poll() is None and time.monotonic() < deadline:
            finished = [f for f in _recoloured(out)
                        if (out / f[0] / "summary.json").is_file()]
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            tree = _kill_session(proc)
    assert finished, f"rc {proc.returncode}:\n{log.read_text()[-3000:]}"
    assert proc.returncode == -signal.SIGKILL, "the build ended before the kill"
    assert {"raylet", "gcs_server"} <= tree  # the command's own Ray went with it
    assert ray.cluster_resources()["CPU"] == 2  # and this process's Ray is untouched
    files = _recoloured(out)  # what was finished when the kill landed
    resumed = len({folder for folder, _ in files})  # one object a shard
    assert 1 <= resumed < 6, f"{files}: nothing left to redo"
    before, debris = _stamps(out, files), _temporaries(out)
    capsys.readouterr()
    # the rerun here, on this process's Ray (--num-cpus unused): the same build, without a
    # second Ray start-up in the test's time
    assert _build(images, out, *flags) == 0
    assert capsys.readouterr().out.startswith("6 objects, 32 images in ")
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["resumed"], summary["done"]) == (resumed, 6 - resumed)
    assert _stamps(out, files) == before  # the finished objects' images not written again,
    for folder, rel in files:  # only linked into OUT/images
        assert os.path.samefile(out / rel, out / folder / rel)
    assert _hashes(out, skip_wds=True) == _hashes(local_build, skip_wds=True)
    assert not _temporaries(out), f"left by the kill: {debris}"


def test_an_unreachable_address_fails_in_seconds_naming_the_flag(images, tmp_path, capsys,
                                                                   monkeypatch):
    """Ray retries an unreachable GCS for minutes: a bad --address is refused first, with a
    one-line error naming it (exit 2), also when the name does not resolve or lacks a port."""
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # a module fixture may hold one
    for address, message in [("garbage:1", "no Ray cluster reachable there"),
                             ("127.0.0.1:1", "no Ray cluster reachable there"),
                             ("garbage", "expected 'auto', HOST:PORT or ray://")]:
        start = time.monotonic()
        assert _build(images, tmp_path / "out", "--engine", "ray", "--address", address) == 2
        assert time.monotonic() - start < 30
        err = capsys.readouterr().err
        assert f"--address {address}" in err.replace("'", "") and message in err, err
        assert "Traceback" not in err
