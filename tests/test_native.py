"""colorist._native: what backend ``auto`` takes, and why when it falls back."""

import json

import cv2
import numpy as np

from colorist import _native
from colorist.io import mask_from_coco, read_image
from colorist.recolor.__main__ import demo_jobs_path, main


def _hide_extension(monkeypatch):
    monkeypatch.setattr(_native, "_load_cpu_extension",
                        lambda: (None, "No module named 'colorist._C'"))


def test_the_compiled_extension_is_built_where_the_tests_run():
    """The README's install (pip install -e .) builds colorist._C in the source tree, so
    the local colorist/ that the tests (and the README's demo) import has it."""
    assert _native.cpu_extension_error() is None
    assert _native.describe_auto_choice() in ("backend: cpu", "backend: cuda",
                                              "backend: triton")


def test_fallback_to_the_reference_names_the_reason_and_the_fix(monkeypatch):
    _hide_extension(monkeypatch)
    line = _native.describe_auto_choice()
    assert line.startswith("backend: reference (the compiled extension did not import: "
                           "No module named 'colorist._C'")
    assert "pip install -e ." in line and "\n" not in line


def _demo_job_file(tmp_path):
    job = json.loads(demo_jobs_path().read_text().splitlines()[0])
    job["image"] = str(demo_jobs_path().parent / job["image"])
    job["targets"] = ["blue"]
    path = tmp_path / "jobs.jsonl"
    path.write_text(json.dumps(job) + "\n")
    return path


def test_recolor_cli_says_which_backend_auto_took(tmp_path, capsys, monkeypatch):
    jobs = _demo_job_file(tmp_path)
    assert main(["--batch", str(jobs), "-o", str(tmp_path / "a"), "--quiet"]) == 0
    line = _native.describe_auto_choice()  # backend: cpu here, cuda on a GPU machine
    assert line in capsys.readouterr().err and "reference" not in line
    _hide_extension(monkeypatch)
    assert main(["--batch", str(jobs), "-o", str(tmp_path / "b"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "backend: reference (the compiled extension did not import" in err


def test_named_backend_prints_no_auto_line(tmp_path, capsys):
    jobs = _demo_job_file(tmp_path)
    assert main(["--batch", str(jobs), "-o", str(tmp_path / "a"), "--quiet",
                 "--backend", "reference"]) == 0
    assert "backend: " not in capsys.readouterr().err


def _demo_object(tmp_path):
    job = json.loads(demo_jobs_path().read_text().splitlines()[0])  # the yellow fire hydrant
    image_path = demo_jobs_path().parent / job["image"]
    mask = mask_from_coco(job["mask"], read_image(image_path).shape[:2])
    cv2.imwrite(str(tmp_path / "mask.png"), mask.astype(np.uint8) * 255)
    return image_path, tmp_path / "mask.png", job["source"]


def test_a_wrong_from_colour_is_warned_naming_both(tmp_path, capsys):
    image, mask, source = _demo_object(tmp_path)
    assert source == "yellow"
    args = [str(image), "--mask", str(mask), "--to", "green", "--quiet", "--backend", "cpu"]
    assert main([*args, "--from", "blue", "-o", str(tmp_path / "wrong")]) == 0
    err = capsys.readouterr().err
    assert "warning: --from blue, but the masked region looks brown (colour namer)" in err
    assert main([*args, "--from", "yellow", "-o", str(tmp_path / "right")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_right_from_colour_of_every_demo_object_is_not_warned(demo_objects):
    from colorist.palette import DEFAULT_PALETTE
    from colorist.recolor.source_check import source_mismatch

    for name, image, mask, source in demo_objects:
        assert source_mismatch(image, mask, source, DEFAULT_PALETTE) is None, name
    _, image, mask, _ = demo_objects[0]  # the yellow fire hydrant
    assert source_mismatch(image, mask, "blue", DEFAULT_PALETTE).startswith("brown")
    assert source_mismatch(image, mask, "black", DEFAULT_PALETTE) is not None
