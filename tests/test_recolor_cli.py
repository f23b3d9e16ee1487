import json
import shutil

import cv2
import numpy as np
import pytest

from colorist.io import read_image, read_jsonl
from colorist.quality import check_passed
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
    checks = [check_passed(r["check"][t]) for r in results for t in r["targets"]
              if t != r["source"]]
    assert len(checks) == 7 * 11 and sum(checks) / len(checks) >= 0.95


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


# ---- hardening: resume, bad fields, flags, disk full ---------------------------------------

def _lines(path):
    return path.read_text().count("\n")


def test_rerun_does_not_redo_renamed_or_duplicate_ids(tmp_path, demo_copy):
    """results.jsonl keeps the id the job ran under (never the raw id of the line), so a
    rerun finds every object finished: the file does not grow."""
    root, jobs = demo_copy
    lines = [dict(jobs[0], targets=["blue"]), dict(jobs[0], id="../../etc/passwd",
                                                   targets=["blue"]),
             dict(jobs[0], targets=["blue"]), dict(jobs[1], id=7, targets=["green"])]
    write_jobs(root / "jobs.jsonl", lines)
    out = tmp_path / "out"
    args = ["--batch", str(root / "jobs.jsonl"), "-o", str(out), "--quiet"]
    assert main(args) == 0
    first = _lines(out / "results.jsonl")
    ids = [r["id"] for r in read_jsonl(out / "results.jsonl")]
    assert first == 4 and len(set(ids)) == 4 and "etc_passwd" in ids and "7" in ids
    for _ in range(2):
        assert main(args) == 0
        assert _lines(out / "results.jsonl") == first
        assert json.loads((out / "summary.json").read_text())["resumed"] == 4


def test_torn_results_line_does_not_lose_the_next_record(tmp_path, demo_copy):
    root, jobs = demo_copy
    write_jobs(root / "jobs.jsonl", [dict(j, targets=["blue"]) for j in jobs])
    out = tmp_path / "out"
    args = ["--batch", str(root / "jobs.jsonl"), "-o", str(out), "--quiet"]
    assert main(args) == 0
    text = (out / "results.jsonl").read_text().splitlines()
    # a crash while appending the second record: its line is cut short, no newline
    (out / "results.jsonl").write_text(text[0] + "\n" + text[1][: len(text[1]) // 2])
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 1 and summary["resumed"] == 1
    assert sorted(r["id"] for r in read_jsonl(out / "results.jsonl")) == sorted(
        j["id"] for j in jobs)
    assert main(args) == 0
    assert json.loads((out / "summary.json").read_text())["resumed"] == 2


def test_every_job_field_is_checked_and_a_bad_line_is_a_reject(tmp_path, demo_copy):
    root, jobs = demo_copy
    good = dict(jobs[0], targets=["blue"])
    bad = [dict(good, targets=5), dict(good, targets=["red", 5]), dict(good, source=None),
           dict(good, source=3), dict(good, image=5), dict(good, image=""),
           dict(good, mask=5), dict(good, mask=None), dict(good, id=[1]), dict(good, id=True),
           dict(good, image="/etc/hostname"), dict(good, image="../../x.jpg"),
           dict(good, mask="../m.png"), dict(good, image="a\u0000b.jpg"), [1, 2], "3",
           "[" * 50000, "null", "1e999999", dict(good, mask={"size": [1, 1]}),
           dict(good, mask=[[1, 2, 3]])]
    write_jobs(root / "jobs.jsonl", [*bad, dict(jobs[1], targets=["green"])])
    out = tmp_path / "out"
    assert main(["--batch", str(root / "jobs.jsonl"), "-o", str(out), "--quiet"]) == 0
    assert [r["id"] for r in read_jsonl(out / "results.jsonl")] == [jobs[1]["id"]]
    rejects = read_jsonl(out / "rejects.jsonl")
    assert len(rejects) == len(bad)
    from colorist.rejects import REASONS

    assert all(r["reason"] in REASONS and r["reason"] != "internal-error" for r in rejects)
    by_line = {r.get("line"): r for r in rejects}
    assert "line 1: 'targets' must be a colour name or a list" in by_line[1]["error"]
    assert by_line[3]["error"].startswith("line 3: 'source' must be a non-empty string")
    assert by_line[11]["reason"] == "unsafe-path" and "absolute" in by_line[11]["error"]
    assert by_line[12]["reason"] == "unsafe-path" and by_line[13]["reason"] == "unsafe-path"
    assert not (tmp_path / "x.jpg").exists()


def test_threads_out_of_range_are_refused_before_native_code(tmp_path, demo_copy, capsys):
    root, jobs = demo_copy
    write_jobs(root / "jobs.jsonl", [dict(jobs[0], targets=["blue"])])
    args = ["--batch", str(root / "jobs.jsonl"), "-o", str(tmp_path / "out"), "--quiet"]
    assert main([*args, "--threads", "100000"]) == 2
    assert "--threads: 100000 is out of range" in capsys.readouterr().err
    from colorist.recolor.batch import BatchConfig

    for bad in (100000, -1, 2.5, "4"):
        with pytest.raises(ValueError, match="threads must be"):
            BatchConfig(threads=bad)
    from colorist import recolor
    from colorist.recolor import available_backends

    if "cpu" not in available_backends():
        pytest.skip("the cpu extension is not built")
    image, mask = np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.uint8)
    for fit in (True, False):
        with pytest.raises(ValueError, match="threads must be between 0"):
            recolor(image, mask, "red", ["blue"], backend="cpu", threads=100000,
                    fit_source=fit)


@pytest.mark.parametrize("flags,message", [
    (["--threads", "-1"], "--threads: -1 is out of range"),
    (["--batch-size", "0"], "--batch-size: 0 is out of range"),
    (["--workers", "0"], "--workers: 0 is out of range"),
    (["--quality", "101"], "--quality: 101 is out of range"),
    (["--max-pixels", "0"], "--max-pixels: 0 is out of range"),
    (["--batch-size", "x"], "--batch-size: 'x' is not an integer"),
])
def test_bad_flags_are_usage_errors(tmp_path, demo_copy, capsys, flags, message):
    root, jobs = demo_copy
    write_jobs(root / "jobs.jsonl", [dict(jobs[0], targets=["blue"])])
    assert main(["--batch", str(root / "jobs.jsonl"), "-o", str(tmp_path / "out"), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_or_holds_foreign_results_is_a_clear_error(tmp_path, demo_copy,
                                                                          capsys):
    root, jobs = demo_copy
    write_jobs(root / "jobs.jsonl", [dict(jobs[0], targets=["blue"])])
    jobs_arg = ["--batch", str(root / "jobs.jsonl"), "--quiet"]
    (tmp_path / "file").write_text("x")
    assert main([*jobs_arg, "-o", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "results.jsonl").write_text('{"name": "other tool"}\n[1]\n')
    assert main([*jobs_arg, "-o", str(foreign)]) == 2
    assert "whose settings are unknown" in capsys.readouterr().err
    assert main([*jobs_arg, "-o", str(foreign), "--overwrite"]) == 0  # explicit: accepted
    assert main([*jobs_arg, "-o", str(foreign), "--format", "png"]) == 2
    err = capsys.readouterr().err
    assert "other settings (image_format: 'jpg' -> 'png')" in err and "--overwrite" in err


def test_disk_full_ends_with_a_summary_and_a_rerun_completes(tmp_path, demo_copy, monkeypatch,
                                                             capsys):
    import errno

    import colorist.io.atomic as atomic

    root, jobs = demo_copy
    write_jobs(root / "jobs.jsonl", [dict(j, targets=["blue", "green"]) for j in jobs])
    out = tmp_path / "out"
    args = ["--batch", str(root / "jobs.jsonl"), "-o", str(out), "--quiet", "--workers", "1"]
    real = atomic._write_all
    # batch_config.json, 2 x 2 variants, one results line; then the disk is full
    budget = {"writes": 6}

    def write_all(f, data):
        if budget["writes"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        budget["writes"] -= 1
        real(f, data)

    monkeypatch.setattr(atomic, "_write_all", write_all)
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "No space left on device" in captured.err
    assert "objects recoloured" in captured.out  # the summary is printed all the same
    done = read_jsonl(out / "results.jsonl")
    assert len(done) == 1
    on_disk = {p.relative_to(out).as_posix() for p in (out / "images").glob("*")}
    assert on_disk == {p for r in done for p in r["outputs"].values()}  # no orphans
    assert not list(out.rglob("*.tmp"))
    monkeypatch.setattr(atomic, "_write_all", real)
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] + summary["resumed"] == 2 and summary["rejected"] == 0
