"""Fuzz corpus of bad inputs through the command lines, in subprocesses on tmp folders.

Every run must end with a clean message (no Python traceback), never write outside its
--out, and finish the good items. The corpus: malformed JSON, wrong types for every field,
huge sizes, FIFOs, /dev/zero, symlinks out, absolute paths, '..', NUL bytes, unicode and
duplicate ids. Kept to a handful of processes (the whole file runs in well under a minute).
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from colorist.io import read_jsonl
from colorist.recolor.__main__ import demo_jobs_path

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


def run_cli(*args, timeout=120):
    """``python -m ARGS`` from the repository root; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=env)


def assert_clean(proc, codes=(0,)):
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in codes, (proc.returncode, proc.stderr[-3000:])


def snapshot(root: Path, skip: Path) -> dict:
    """Every path under ``root`` but ``skip`` (the --out), with its size and mtime."""
    out = {}
    for p in root.rglob("*"):
        if p.is_relative_to(skip) or p == skip:
            continue
        st = p.lstat()
        out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def bomb_png(path: Path, side: int = 20000) -> None:
    """A valid PNG header announcing side x side RGB pixels, in a few hundred bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b""))


def hostile_files(root: Path, outside: Path) -> None:
    """FIFOs, symlinks out, a bomb, a folder, empty/corrupt files, a unicode name."""
    os.mkfifo(root / "fifo.jpg")
    os.mkfifo(root / "fifo_mask.png")
    (root / "link_out.jpg").symlink_to(outside / "secret.jpg")
    (root / "link_zero.jpg").symlink_to("/dev/zero")
    (root / "link_fifo.jpg").symlink_to(root / "fifo.jpg")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    bomb_png(root / "bomb.png")
    (root / "folder.jpg").mkdir()
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("not an image")


# ---- python -m colorist.recolor --batch ------------------------------------------------------

def job_corpus(good: dict, other: dict, outside: Path) -> list:
    """Bad job lines (strings are written as they are), then the two good jobs."""
    lines = ["{", "[", "", "   ", "null", "1e999999", "\"text\"", "[1, 2]", "{\"a\": 1}",
             "[" * 100000, "{\"image\": \"" + "x" * 200000 + "\"}", "\ufeff{}", "\x00",
             json.dumps(dict(good, id="u\u2028v"))[:-1] + ", \"note\": \"a\u2028b\"}"]
    for field, values in {
        "image": [5, None, [], {}, True, "", "images", "nope.jpg", "/etc/hostname",
                  str(outside / "secret.jpg"), "../outside/secret.jpg", "a\u0000b.jpg",
                  "fifo.jpg", "link_out.jpg", "link_zero.jpg", "link_fifo.jpg", "loop.jpg",
                  "bomb.png", "folder.jpg", "empty.jpg", "text.jpg", "/dev/zero"],
        "mask": [5, None, True, "", "nope.png", "fifo_mask.png", "../x.png", "/dev/zero",
                 "bomb.png", {"size": "big", "counts": 1}, {"size": [10 ** 6, 10 ** 6],
                                                           "counts": [1]},
                 {"size": [1, 1], "counts": "\u00ff\u00ff"}, [[1e308, 0, 0, 1e308, 5, 5]],
                 [["a", "b", "c", "d", "e", "f"]], [[1, 2, 3]], [], [[]], {}],
        "source": [None, 5, [], {}, "", "ultraviolet", "\u0000", "red\u0000"],
        "targets": [5, {}, [5], ["red", None], "ultraviolet", [[]], [""]],
        "id": [[], {}, True, 1.5],
    }.items():
        lines += [dict(good, **{field: v}) for v in values]
    lines += [dict(good, id=v) for v in ("../../ESCAPED", "\u0000", "é" * 500, "CON", "", 7)]
    lines += [dict(good, check="bogus", outputs=5, mask_pixels="x")]  # extra fields
    lines += [good, good, other]  # duplicates of the good job
    return lines


@pytest.fixture
def batch_tree(tmp_path):
    src = demo_jobs_path().parent
    demo = [json.loads(x) for x in demo_jobs_path().read_text().splitlines()][:2]
    root, outside = tmp_path / "jobs", tmp_path / "outside"
    (root / "images").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(src / demo[0]["image"], outside / "secret.jpg")
    for j in demo:
        shutil.copy(src / j["image"], root / j["image"])
    unicode_name = "images/ünï cödé.jpg"
    shutil.copy(src / demo[1]["image"], root / unicode_name)
    hostile_files(root, outside)
    good = dict(demo[0], targets=["blue"])
    other = dict(demo[1], image=unicode_name, id="ünï", targets=["green"])
    lines = job_corpus(good, other, outside)
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    (root / "jobs.jsonl").write_bytes(text.encode("utf-8") + b"\xff\xfe broken utf-8\n")
    return tmp_path, root, good, len(lines)


def test_recolor_batch_survives_the_corpus(batch_tree):
    tmp_path, root, good, n_lines = batch_tree
    out = tmp_path / "out"
    before = snapshot(tmp_path, out)
    args = ["colorist.recolor", "--batch", root / "jobs.jsonl", "-o", out, "--quiet",
            "--backend", "auto", "--workers", "2", "--batch-size", "4"]
    proc = run_cli(*args)
    assert_clean(proc)
    assert snapshot(tmp_path, out) == before  # nothing written (or read-and-touched) outside
    results = read_jsonl(out / "results.jsonl")
    ids = {r["id"] for r in results}
    assert {"uni", "ESCAPED", "CON", "7"} <= ids  # sanitised ids of good lines
    assert sum(i.startswith(good["id"]) for i in ids) >= 3  # the good job and its duplicates
    assert all(isinstance(r["outputs"], dict) and r["mask_pixels"] > 0 for r in results)
    rejects = read_jsonl(out / "rejects.jsonl")
    assert len(results) + len(rejects) >= n_lines - 2  # blank lines are not items
    assert not [r for r in rejects if r["reason"] == "internal-error"], rejects
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(out.resolve())
    again = run_cli(*args)  # a rerun finds every finished object: nothing is redone
    assert_clean(again)
    assert len(read_jsonl(out / "results.jsonl")) == len(results)
    assert json.loads((out / "summary.json").read_text())["resumed"] == len(results)


def test_recolor_cli_flag_errors_are_one_line_messages(tmp_path):
    for flags in (["--threads", "100000"], ["--batch-size", "0"], ["-o", "/dev/null"],
                  ["--quality", "abc"]):
        proc = run_cli("colorist.recolor", "--batch", "-o", tmp_path / "o", *flags)
        assert_clean(proc, codes=(2,))
        assert "error:" in proc.stderr
    proc = run_cli("colorist.recolor", "--batch", tmp_path / "missing.jsonl", "-o", tmp_path / "o")
    assert_clean(proc, codes=(2,))
    assert "job file not found" in proc.stderr


# ---- python -m colorist.dataset build ------------------------------------------------------

def red_car(path: Path, h=40, w=60) -> None:
    img = np.full((h, w, 3), 128, np.uint8)
    img[10:30, 10:40] = (0, 0, 220)  # BGR red
    cv2.imwrite(str(path), img)


def car(image_id, **kw) -> dict:
    return {"image_id": image_id, "height": 40, "width": 60,
            "captions": ["A red car parked on the street."],
            "entities": {"car": [[[10, 10, 39, 10, 39, 29, 10, 29]]]}, **kw}


def standard_corpus(tmp_path: Path, outside: Path) -> list:
    records = [car(1, file_name="1.jpg"), car("ünï", file_name="ünï.jpg"),
               car(f"x/../../{tmp_path}/ESCAPED", file_name="1.jpg")]
    for value in ([], {}, None, True, 1.5, "", "\u0000"):
        records.append(car(value, file_name="1.jpg"))
    for value in (5, None, [], "", str(outside / "secret.jpg"), "../outside/secret.jpg",
                  "a\u0000.jpg", "fifo.jpg", "link_out.jpg", "link_zero.jpg", "loop.jpg",
                  "bomb.png", "folder.jpg", "empty.jpg", "text.jpg", "/dev/zero", "nope.jpg"):
        records.append(car(len(records) + 100, file_name=value))
    for key, value in (("height", "abc"), ("height", 0), ("height", -5), ("width", 10 ** 12),
                       ("width", True), ("height", None), ("captions", "A red car."),
                       ("captions", [5]), ("captions", ["A red car " + "x" * 20000]),
                       ("entities", []), ("entities", {"car": 5}),
                       ("entities", {"car": [[["a", "b", "c", "d", "e", "f"]]]}),
                       ("entities", {"car": [[[float("nan")] * 8]]}),
                       ("entities", {"car": [[[1e308, 0, 0, 1e308, 9, 9]]]}),
                       ("entities", {"car": [{"size": [1, 1], "counts": "zz"}]})):
        records.append(car(len(records) + 100, file_name="1.jpg", **{key: value}))
    records += [car(1, file_name="1.jpg"), "not a record", 7, None]  # duplicate id, junk
    return records


@pytest.fixture
def build_tree(tmp_path):
    images, outside = tmp_path / "images", tmp_path / "outside"
    images.mkdir()
    outside.mkdir()
    red_car(images / "1.jpg")
    red_car(images / "ünï.jpg")
    red_car(outside / "secret.jpg")
    hostile_files(images, outside)
    src = tmp_path / "s.json"
    src.write_text(json.dumps(standard_corpus(tmp_path, outside)))
    return tmp_path, images, src


def test_dataset_build_survives_the_corpus(build_tree):
    tmp_path, images, src = build_tree
    out = tmp_path / "ds"
    before = snapshot(tmp_path, out)
    args = ["colorist.dataset", "build", "--standard", src, "--images", images, "--out", out,
            "--backend", "auto", "--quiet", "--split", "1", "--workers", "2"]
    proc = run_cli(*args)
    assert_clean(proc)
    assert snapshot(tmp_path, out) == before
    assert not (tmp_path / "ESCAPED").exists() and not list(tmp_path.glob("ESCAPED*"))
    summary = json.loads((out / "dataset_summary.json").read_text())
    rejects = read_jsonl(out / "rejects.jsonl")
    # the good objects: ids 1, "ünï", "x/../..ESCAPED" and "\u0000" (safe names in OUT)
    built_or_checked = summary["objects"] + summary["rejections"].get("recolor-check-failed", 0)
    assert built_or_checked == 4, summary
    assert not [r for r in rejects if r["reason"] == "internal-error"], rejects
    assert summary["rejections"]["unsafe-path"] >= 5
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(out.resolve())
    again = run_cli(*args)
    assert_clean(again)
    assert json.loads((out / "dataset_summary.json").read_text())["objects"] == summary["objects"]


def test_coco_build_with_bad_records_and_bad_flags(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    red_car(images / "1.jpg")
    inst = {"categories": [{"id": 1, "name": "car"}, {"id": None, "name": 5}],
            "images": [{"id": 1, "file_name": "1.jpg", "height": 40, "width": 60},
                       {"id": "s", "file_name": "/etc/hostname", "height": 40, "width": 60},
                       {"id": 2.5, "file_name": "x.jpg", "height": 40, "width": 60}, []],
            "annotations": [{"id": 10, "image_id": 1, "category_id": 1,
                             "segmentation": [[10, 10, 39, 10, 39, 29, 10, 29]]},
                            {"id": 11, "image_id": "s", "category_id": 1,
                             "segmentation": [[10, 10, 39, 10, 39, 29, 10, 29]]},
                            {"id": 12, "image_id": [1], "category_id": 1}, "junk"]}
    caps = {"annotations": [{"id": 1, "image_id": 1, "caption": "A red car."},
                            {"id": 2, "image_id": "s", "caption": "A red car."},
                            {"id": 3, "image_id": 1, "caption": None}]}
    (tmp_path / "i.json").write_text(json.dumps(inst))
    (tmp_path / "c.json").write_text(json.dumps(caps))
    out = tmp_path / "ds"
    base = ["colorist.dataset", "build", "--captions", tmp_path / "c.json", "--instances",
            tmp_path / "i.json", "--images", images, "--backend", "auto", "--quiet"]
    proc = run_cli(*base, "--out", out, "--split", "1")
    assert_clean(proc)
    assert "skipped:" in proc.stderr
    reasons = {r["reason"] for r in read_jsonl(out / "rejects.jsonl")}
    assert {"malformed-record", "unsafe-path"} <= reasons
    for flags in (["--limit", "-1"], ["--split", "nan"], ["--out", tmp_path / "i.json"]):
        proc = run_cli(*base, *(["--out", tmp_path / "o2"] if "--out" not in flags else []),
                       *flags)
        assert_clean(proc, codes=(2,))
        assert "error:" in proc.stderr
    (tmp_path / "bad.json").write_text("{oops")
    proc = run_cli("colorist.dataset", "build", "--captions", tmp_path / "bad.json",
                   "--instances", tmp_path / "bad.json", "--images", images, "--out", out)
    assert_clean(proc, codes=(2,))
    assert "malformed JSON" in proc.stderr
