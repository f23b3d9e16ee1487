import json
import shutil

import cv2
import numpy as np
import pytest

from colorist.io import read_image, read_jsonl
from colorist.recolor.__main__ import demo_jobs_path, main


@pytest.fixture
def demo_copy(tmp_path):
    """Two demo images copied to tmp_path with a job file we can corrupt."""
    src = demo_jobs_path().parent
    jobs = [json.loads(x) for x in demo_jobs_path().read_text().splitlines()][:2]
    (tmp_path / "images").mkdir()
    for j in jobs:
        shutil.copy(src / j["image"], tmp_path / j["image"])
    return tmp_path, jobs


def write_jobs(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


def test_single_mode(tmp_path, demo_copy):
    root, jobs = demo_copy
    image = read_image(root / jobs[0]["image"])
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[10:60, 10:80] = 255
    cv2.imwrite(str(root / "m.png"), mask)
    rc = main([str(root / jobs[0]["image"]), "--mask", str(root / "m.png"), "--from", "red",
               "--to", "blue", "grey", "-o", str(tmp_path / "out"), "--quiet", "--format", "png"])
    assert rc == 0
    files = sorted(p.name for p in (tmp_path / "out" / "images").iterdir())
    assert len(files) == 2 and files[0].endswith("_blue.png") and files[1].endswith("_gray.png")
    out = read_image(tmp_path / "out" / "images" / files[0])
    assert np.array_equal(out[mask == 0], image[mask == 0])  # PNG: lossless outside the mask


def test_batch_bad_items_are_rejected_and_rest_finish(tmp_path, demo_copy, capsys):
    root, jobs = demo_copy
    (root / "corrupt.jpg").write_bytes(b"not a jpeg")
    cv2.imwrite(str(root / "small.png"), np.ones((5, 5), np.uint8))
    good = dict(jobs[0], targets=["blue", "green"])
    lines = [
        good,
        "{broken json",
        dict(good, id="missing", image="images/nope.jpg"),
        dict(good, id="corrupt", image="corrupt.jpg"),
        dict(good, id="wrongsize", mask="small.png"),
        dict(good, id="empty", mask=[[5, 5, 5, 5, 5, 5]]),  # zero-area polygon
        dict(good, id="badcolour", targets=["ultraviolet"]),
        dict(good, id="outofbounds", mask=[[0, 0, 9000, 0, 9000, 10]]),
        dict(jobs[1], targets=["red"]),
    ]
    write_jobs(root / "jobs.jsonl", lines)
    out = tmp_path / "out"
    rc = main(["--batch", str(root / "jobs.jsonl"), "-o", str(out), "--quiet", "--preview"])
    assert rc == 0
    results = read_jsonl(out / "results.jsonl")
    assert sorted(r["id"] for r in results) == sorted([good["id"], jobs[1]["id"]])
    rejects = read_jsonl(out / "rejects.jsonl")
    text = "\n".join(r["error"] for r in rejects)
    assert len(rejects) == 7
    for expected in ["line 2: malformed JSON", "nope.jpg: image file not found",
                     "corrupt.jpg: not a decodable image", "small.png: mask is 5x5",
                     "mask is empty", "line 7: unknown colour 'ultraviolet'", "out of bounds"]:
        assert expected in text
    assert (out / "previews" / f"{good['id']}.png").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 2 and summary["rejected"] == 7
    assert "2 objects recoloured" in capsys.readouterr().out
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temporaries


def test_rerun_resumes_and_overwrite_redoes(tmp_path, demo_copy):
    root, jobs = demo_copy
    write_jobs(root / "jobs.jsonl", [dict(j, targets=["blue"]) for j in jobs])
    out = tmp_path / "out"
    args = ["--batch", str(root / "jobs.jsonl"), "-o", str(out), "--quiet"]
    assert main(args) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    # lose one output file: only that object is redone
    victim = out / "images" / f"{jobs[0]['id']}_blue.jpg"
    victim.unlink()
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed"] == 1 and summary["done"] == 1
    assert victim.exists()
    other = f"{jobs[1]['id']}_blue.jpg"
    assert (out / "images" / other).stat().st_mtime_ns == first[other]  # untouched
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "summary.json").read_text())["done"] == 2


def test_batch_without_file_runs_bundled_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--batch", "--quiet", "--backend", "cpu"]) == 0
    results = read_jsonl(tmp_path / "colorist-out" / "results.jsonl")
    assert len(results) == 7
    checks = [r["check"][t] == t for r in results for t in r["targets"]]
    assert sum(checks) / len(checks) >= 0.95


def test_usage_errors(tmp_path, capsys):
    assert main([]) == 2
    assert main(["--batch", str(tmp_path / "none.jsonl"), "-o", str(tmp_path)]) == 2
    assert "job file not found" in capsys.readouterr().err
    assert main([str(tmp_path / "x.jpg"), "--from", "red"]) == 2


def test_job_ids_are_sanitised(tmp_path, demo_copy):
    root, jobs = demo_copy
    write_jobs(root / "jobs.jsonl", [dict(jobs[0], id="../../escape", targets=["blue"])])
    out = tmp_path / "out"
    assert main(["--batch", str(root / "jobs.jsonl"), "-o", str(out), "--quiet"]) == 0
    assert (out / "images" / "escape_blue.jpg").exists()
    assert not (tmp_path / "escape_blue.jpg").exists()
