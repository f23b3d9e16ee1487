"""Dataset builder on coco-mini: hand-checked selections, build, determinism, resume,
sources and their errors."""

import json

import numpy as np
import pytest

from colorist.naming import load_namer

pytest.importorskip("spacy")
from colorist.dataset.__main__ import main  # noqa: E402
from colorist.io import read_image, read_jsonl  # noqa: E402
from colorist.sources import SourceError, load_coco, load_standard  # noqa: E402

from .conftest import COCO_MINI  # noqa: E402

CAPS = COCO_MINI / "annotations" / "captions_train2017.json"
INST = COCO_MINI / "annotations" / "instances_train2017.json"


def coco_args(out):
    return ["--captions", str(CAPS), "--instances", str(INST), "--out", str(out), "--quiet"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    assert main(["build", *coco_args(out), "--images", str(COCO_MINI / "images"),
                 "--backend", "cpu", "--workers", "2"]) == 0
    return out


def test_mine_selects_the_hand_checked_objects(tmp_path):
    assert main(["mine", *coco_args(tmp_path)]) == 0
    objects = {(o["image_id"], o["category"]): o for o in read_jsonl(tmp_path / "objects.jsonl")}
    # checked by reading every caption of these images and counting their instances
    assert {k: (o["color"], o["group"]) for k, o in objects.items()} == {
        (30752, "dog"): ("yellow", "main"),            # "a yellow lab"
        (194322, "fire hydrant"): ("yellow", "main"),
        (234748, "car"): ("blue", "main"),
        (525891, "stop sign"): ("red", "main"),
        (187334, "sheep"): ("white", "complementary"),
        (196393, "cat"): ("white", "complementary"),
        (409194, "sink"): ("white", "complementary"),
        (466137, "teddy bear"): ("brown", "complementary"),
    }
    o = objects[(194322, "fire hydrant")]
    assert o["caption"][slice(*o["span"])] == "yellow" and o["annotation_id"]
    reasons = {(r["image_id"], r.get("category"), r["reason"])
               for r in read_jsonl(tmp_path / "rejects.jsonl")}
    for expected in [
        (249346, "bear", "two-colours"),               # "black and white panda bear"
        (332078, "truck", "conflicting-captions"),     # green truck vs white truck
        (89232, "toilet", "multiple-instances"),       # "two white toilets"
        (72258, None, "colour-not-in-palette"),        # "a silver container"
        (194322, "fire hydrant", "same-object-other-caption"),
    ]:
        assert expected in reasons, expected


def test_build_writes_groups_captions_and_metadata(built):
    summary = json.loads((built / "dataset_summary.json").read_text())
    assert summary["objects"] == 8 and summary["per_split"]["complementary"] == 4
    (desc_path,) = (built / "images").glob("*/*_525891_stop-sign.json")
    images = desc_path.parent
    desc = json.loads(desc_path.read_text())
    assert len(desc["variants"]) == 8 and desc["variants"][0]["original"]
    by_color = {v["color"]: v for v in desc["variants"]}
    assert by_color["orange"]["caption"] == "An orange stop sign next to a large bush with red " \
                                            "flowers."
    recoloured = read_image(images / by_color["blue"]["file_name"])
    assert by_color["blue"]["file_name"].endswith("_525891_blue_stop-sign.jpg")
    assert load_namer().region_name(recoloured, _mask(built, desc)) == "blue"
    meta = []
    for split in ("train", "val", "complementary"):
        rows = read_jsonl(built / "images" / split / "metadata.jsonl")
        assert rows and all((built / "images" / split / m["file_name"]).exists() for m in rows)
        assert {m["split"] for m in rows} == {split}
        meta += rows
    assert len(meta) == summary["images"]
    splits = {}
    for m in meta:  # no source image in two splits
        splits.setdefault(m["image_id"], set()).add(m["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert (built / "rejects.jsonl").exists()


def _mask(root, desc):
    from colorist.io import mask_from_coco
    inst = json.loads(INST.read_text())
    ann = next(a for a in inst["annotations"] if a["id"] == desc["annotation_id"])
    return mask_from_coco(ann["segmentation"], (desc["height"], desc["width"]))


def test_build_is_deterministic_and_resumes(built, tmp_path):
    args = ["build", *coco_args(tmp_path), "--images", str(COCO_MINI / "images"),
            "--backend", "cpu", "--limit", "3"]
    assert main(args) == 0
    root = tmp_path / "images"
    files = {p.relative_to(root): p.read_bytes() for p in root.glob("*/*")}
    assert len(files) > 3
    for name, data in files.items():
        if name.name != "metadata.jsonl":
            assert (built / "images" / name).read_bytes() == data, name  # same as full build
    victim = next(root / p for p in files if p.suffix == ".jpg")
    victim.unlink()
    assert main(args) == 0
    run = json.loads((tmp_path / "summary.json").read_text())
    assert run["resumed"] == 2 and run["done"] == 1
    assert victim.read_bytes() == files[victim.relative_to(root)]


def test_datasets_imagefolder_reads_the_build_as_is(built):
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("imagefolder", data_dir=str(built / "images"))
    summary = json.loads((built / "dataset_summary.json").read_text())
    assert set(ds) == {"train", "validation"}
    assert ds["train"].num_rows == 8 * summary["per_split"]["train"]
    row = ds["train"][0]
    assert {"image", "text", "color", "category", "group", "original"} <= set(row)
    assert row["image"].size[0] > 0 and row["text"]
    comp = datasets.load_dataset("imagefolder", data_dir=str(built / "images/complementary"),
                                 split="train")
    assert comp.num_rows == 4 * summary["per_split"]["complementary"]
    assert set(comp["color"]) <= {"black", "gray", "white", "brown"}


def test_standard_format_and_malformed_files(tmp_path):
    std = [{"image_id": 7, "height": 20, "width": 30, "captions": ["A red car."],
            "entities": {"car": [[[1, 1, 10, 1, 10, 10]]]}}]
    (tmp_path / "s.json").write_text(json.dumps(std))
    records, cats = load_standard(tmp_path / "s.json")
    assert cats == ["car"] and records[0].captions == [("7:0", "A red car.")]
    assert records[0].instances[0].annotation_id == "7:car:0"
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(SourceError, match="bad.json: malformed JSON"):
        load_coco(tmp_path / "bad.json", tmp_path / "bad.json")
    with pytest.raises(SourceError, match="annotation file not found"):
        load_standard(tmp_path / "missing.json")
    (tmp_path / "nocap.json").write_text(json.dumps([{"image_id": 1, "entities": {}}]))
    with pytest.raises(SourceError, match="image 1 has no 'captions' field"):
        load_standard(tmp_path / "nocap.json")
    assert main(["mine", "--standard", str(tmp_path / "bad.json"), "--out",
                 str(tmp_path / "o")]) == 2


def test_mine_on_the_standard_format(tmp_path):
    std = [{"image_id": 7, "height": 20, "width": 30,
            "captions": ["A red car on the road.", "The car is red."],
            "entities": {"car": [[[1, 1, 10, 1, 10, 10]]], "dog": [[[1, 1, 5, 1, 5, 5]],
                                                                    [[9, 9, 12, 9, 12, 12]]]}}]
    (tmp_path / "s.json").write_text(json.dumps(std))
    assert main(["mine", "--standard", str(tmp_path / "s.json"), "--out", str(tmp_path)]) == 0
    (obj,) = read_jsonl(tmp_path / "objects.jsonl")
    assert (obj["category"], obj["color"], obj["caption_id"]) == ("car", "red", "7:0")
    assert np.array_equal(obj["span"], [2, 5])


def _red_car_image(path, h=40, w=60):
    import cv2

    img = np.full((h, w, 3), 128, np.uint8)
    img[10:30, 10:40] = (0, 0, 220)  # BGR red
    cv2.imwrite(str(path), img)


def test_build_skips_bad_items_records_them_and_finishes_the_rest(tmp_path):
    """Missing image, corrupt JPEG, polygon outside the image, a caption without colour, a
    malformed record: each is reported (named) and skipped; the good object is built."""
    images = tmp_path / "images"
    images.mkdir()
    car = [[[10, 10, 39, 10, 39, 29, 10, 29]]]
    std = [{"image_id": i, "height": 40, "width": 60,
            "captions": ["A red car parked on the street."], "entities": {"car": car}}
           for i in (1, 2, 3, 4)]
    std[3]["entities"] = {"car": [[[50, 10, 90, 10, 90, 29, 50, 29]]]}  # outside 60 px width
    std.append({"image_id": 5, "height": 40, "width": 60, "captions": ["A car on a road."],
                "entities": {"car": car}})
    std.append({"image_id": 6, "captions": ["A blue car."], "entities": {"car": car}})  # no size
    for i in (1, 3, 4, 5):
        _red_car_image(images / f"{i}.jpg")
    (images / "3.jpg").write_bytes((images / "3.jpg").read_bytes()[:200])  # corrupt: truncated
    (tmp_path / "s.json").write_text(json.dumps(std))
    out = tmp_path / "ds"
    assert main(["build", "--standard", str(tmp_path / "s.json"), "--images", str(images),
                 "--out", str(out), "--backend", "cpu", "--quiet", "--split", "1"]) == 0
    summary = json.loads((out / "dataset_summary.json").read_text())
    assert summary["objects"] == 1 and summary["images"] == 8
    assert (out / "images" / "train" / "train_1_green_car.jpg").is_file()
    rejected = read_jsonl(out / "rejects.jsonl")
    by_image = {r["image_id"]: r for r in rejected}
    assert by_image[6]["reason"] == "malformed-record" and "height" in by_image[6]["error"]
    for i, needle, reason in ((2, "2.jpg", "image-not-found"), (3, "3.jpg", "image-undecodable"),
                              (4, "out of bounds", "mask-out-of-bounds")):
        assert by_image[i]["reason"] == reason, by_image[i]
        assert needle in by_image[i]["error"], by_image[i]
    assert 5 not in by_image  # a caption without a colour word is not a candidate at all
    assert summary["rejections"] == {"malformed-record": 1, "image-not-found": 1,
                                     "image-undecodable": 1, "mask-out-of-bounds": 1}


def test_coco_annotation_for_an_unknown_image_is_recorded_and_skipped(tmp_path):
    inst = {"categories": [{"id": 1, "name": "car"}],
            "images": [{"id": 1, "file_name": "1.jpg", "height": 40, "width": 60}],
            "annotations": [{"id": 10, "image_id": 1, "category_id": 1,
                             "segmentation": [[10, 10, 39, 10, 39, 29]]},
                            {"id": 11, "image_id": 99, "category_id": 1,
                             "segmentation": [[10, 10, 39, 10, 39, 29]]}]}
    caps = {"annotations": [{"id": 5, "image_id": 1, "caption": "A red car."}]}
    (tmp_path / "i.json").write_text(json.dumps(inst))
    (tmp_path / "c.json").write_text(json.dumps(caps))
    with pytest.raises(SourceError, match="annotation 11 refers to an unknown image"):
        load_coco(tmp_path / "c.json", tmp_path / "i.json")
    problems = []
    records, _ = load_coco(tmp_path / "c.json", tmp_path / "i.json", problems)
    assert [len(r.instances) for r in records] == [1]
    assert problems[0].reason == "unknown-image" and problems[0].context["annotation_id"] == 11
    assert main(["mine", "--captions", str(tmp_path / "c.json"), "--instances",
                 str(tmp_path / "i.json"), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert [o["annotation_id"] for o in read_jsonl(tmp_path / "o" / "objects.jsonl")] == [10]
    assert read_jsonl(tmp_path / "o" / "rejects.jsonl")[0]["reason"] == "unknown-image"


# ---- hardening: untrusted records, reruns that never delete, flags, schema ----------------

def _standard(tmp_path, records, name="s.json"):
    (tmp_path / name).write_text(json.dumps(records))
    return tmp_path / name


def _car(image_id, **kw):
    return {"image_id": image_id, "height": 40, "width": 60,
            "captions": ["A red car parked on the street."],
            "entities": {"car": [[[10, 10, 39, 10, 39, 29, 10, 29]]]}, **kw}


def _build(src, images, out, *flags):
    return main(["build", "--standard", str(src), "--images", str(images), "--out", str(out),
                 "--backend", "cpu", "--quiet", "--split", "1", *flags])


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file()}


@pytest.mark.parametrize("refine", [False, True])
def test_build_keeps_ids_and_file_names_inside_out(tmp_path, refine):
    if refine:
        pytest.importorskip("numba")
    images, outside, out = tmp_path / "images", tmp_path / "outside", tmp_path / "ds"
    images.mkdir()
    outside.mkdir()
    for name in ("1.jpg", "2.jpg"):
        _red_car_image(images / name)
    _red_car_image(outside / "secret.jpg")
    (images / "link.jpg").symlink_to(outside / "secret.jpg")
    escaped = f"x/../../{tmp_path}/ESCAPED"
    src = _standard(tmp_path, [
        _car(1, file_name="1.jpg"), _car(escaped, file_name="2.jpg"),
        _car(3, file_name=str(outside / "secret.jpg")), _car(4, file_name="../outside/secret.jpg"),
        _car(5, file_name="link.jpg"), _car(6, file_name="nul\u0000.jpg")])
    assert _build(src, images, out, *(["--refine-color"] if refine else [])) == 0
    written = [p for p in tmp_path.rglob("*ESCAPED*")]
    assert written and all(p.is_relative_to(out) for p in written), written
    by_image = {r["image_id"]: r for r in read_jsonl(out / "rejects.jsonl")}
    for i in (3, 4, 5, 6):
        assert by_image[i]["reason"] == "unsafe-path", by_image[i]
    assert not (out / "rejected.jsonl").exists()  # one name: rejects.jsonl
    objects = json.loads((out / "dataset_summary.json").read_text())["objects"]
    assert objects + sum(r["reason"] == "recolor-check-failed" for r in by_image.values()) == 2


def _snapshot_build(tmp_path, *flags):
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    for i in (1, 2):
        _red_car_image(images / f"{i}.jpg")
    src = _standard(tmp_path, [_car(1), _car(2)])
    out = tmp_path / "ds"
    assert _build(src, images, out, *flags) == 0
    return src, images, out


def test_rerun_with_other_colours_is_refused_and_deletes_nothing(tmp_path, capsys):
    src, images, out = _snapshot_build(tmp_path, "--colors", "red", "blue", "yellow", "green")
    before = _files(out)
    assert any(name.endswith("_blue_car.jpg") for name in before)
    capsys.readouterr()
    assert _build(src, images, out) == 2  # the default colours: other settings
    err = capsys.readouterr().err
    assert "other settings (colors:" in err and "--rebuild" in err and "Traceback" not in err
    assert _files(out) == before  # nothing deleted, nothing rewritten
    assert _build(src, images, out, "--rebuild") == 0
    (old,) = (out / "replaced").iterdir()
    assert _files(old) == before  # the previous build, set aside whole
    assert any(name.endswith("_purple_car.jpg") for name in _files(out / "images"))


def test_a_failed_colour_check_is_recorded_never_deleted(tmp_path, monkeypatch):
    import importlib

    build_mod = importlib.import_module("colorist.dataset.build")  # not the function
    src, images, out = _snapshot_build(tmp_path)
    variants = {n: b for n, b in _files(out / "images").items() if n.endswith(".jpg")}
    monkeypatch.setattr(build_mod, "failed_check", lambda record, job: ["blue"])
    assert _build(src, images, out) == 0
    assert {n: b for n, b in _files(out / "images").items() if n.endswith(".jpg")} == variants
    reasons = [r["reason"] for r in read_jsonl(out / "rejects.jsonl")]
    assert reasons.count("recolor-check-failed") == 2
    assert read_jsonl(out / "images" / "train" / "metadata.jsonl") == []
    summary = json.loads((out / "dataset_summary.json").read_text())
    assert summary["objects"] == 0 and summary["rejections"]["recolor-check-failed"] == 2


def test_out_holding_unrelated_results_is_refused_cleanly(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    _red_car_image(images / "1.jpg")
    src = _standard(tmp_path, [_car(1)])
    out = tmp_path / "ds"
    out.mkdir()
    (out / "results.jsonl").write_text('{"name": "not ours"}\n')
    assert _build(src, images, out) == 2
    err = capsys.readouterr().err
    assert "settings are unknown" in err and "Traceback" not in err
    assert (out / "results.jsonl").read_text() == '{"name": "not ours"}\n'


@pytest.mark.parametrize("flags,message", [
    (["--limit", "-1"], "--limit: -1 is out of range"),
    (["--split", "1.5"], "--split: 1.5 is out of range"),
    (["--split", "-0.5"], "--split: -0.5 is out of range"),
    (["--split", "nan"], "--split: nan is out of range"),
    (["--workers", "0"], "--workers: 0 is out of range"),
    (["--shard", "3/2"], "--shard: 3/2: need 0 <= i < n"),
    (["--shard", "x"], "--shard: 'x': expected i/n"),
    (["--colors", "ultraviolet"], "'ultraviolet' is not a palette colour"),
    (["--max-pixels", "0"], "--max-pixels: 0 is out of range"),
])
def test_bad_build_flags_are_usage_errors(tmp_path, capsys, flags, message):
    src = _standard(tmp_path, [_car(1)])
    (tmp_path / "images").mkdir()
    assert _build(src, tmp_path / "images", tmp_path / "ds", *flags) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_out_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    src = _standard(tmp_path, [_car(1)])
    (tmp_path / "images").mkdir()
    assert _build(src, tmp_path / "images", src) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_coco_records_of_any_type_are_checked_one_by_one(tmp_path):
    inst = {"categories": [{"id": 1, "name": "car"}, {"id": [2], "name": "bus"}],
            "images": [{"id": 2, "file_name": "2.jpg", "height": 40, "width": 60},
                       {"id": "b", "file_name": "b.jpg", "height": 40, "width": 60},
                       {"id": 1, "file_name": "1.jpg", "height": 40, "width": 60},
                       {"id": [3], "file_name": "3.jpg", "height": 40, "width": 60},
                       {"id": 4, "file_name": 4, "height": 40, "width": 60},
                       {"id": 5, "file_name": "5.jpg", "height": "abc", "width": 60},
                       {"id": 6, "file_name": "6.jpg", "height": True, "width": 60},
                       {"id": 1, "file_name": "dup.jpg", "height": 40, "width": 60}, "junk"],
            "annotations": [{"id": 10, "image_id": 1, "category_id": 1,
                             "segmentation": [[10, 10, 39, 10, 39, 29]]},
                            {"id": 11, "image_id": "b", "category_id": 1,
                             "segmentation": [[10, 10, 39, 10, 39, 29]]},
                            {"id": 12, "image_id": {"a": 1}, "category_id": 1},
                            {"id": 13, "image_id": 1, "category_id": 9, "segmentation": []}]}
    caps = {"annotations": [{"id": 5, "image_id": 1, "caption": "A red car."},
                            {"id": "c", "image_id": "b", "caption": "A blue car."},
                            {"id": 6, "image_id": 1, "caption": 42}, 7]}
    (tmp_path / "i.json").write_text(json.dumps(inst))
    (tmp_path / "c.json").write_text(json.dumps(caps))
    problems = []
    records, categories = load_coco(tmp_path / "c.json", tmp_path / "i.json", problems)
    assert [r.image_id for r in records] == [1, 2, "b"] and categories == ["car"]
    assert [len(r.instances) for r in records] == [1, 0, 1]
    reasons = sorted(p.reason for p in problems)
    assert reasons == ["duplicate-id", "malformed-record", "malformed-record",
                       "malformed-record", "malformed-record", "malformed-record",
                       "malformed-record", "malformed-record", "malformed-record",
                       "malformed-record", "unknown-category"]
    assert all(p.error.startswith(str(tmp_path)) for p in problems)
    with pytest.raises(SourceError, match="'id' must be an integer or a string"):
        load_coco(tmp_path / "c.json", tmp_path / "i.json")


def test_build_reads_nothing_back_that_it_wrote(tmp_path, monkeypatch):
    """The builder takes the recolouring run's records and rejects in memory."""
    from pathlib import Path

    images = tmp_path / "images"
    images.mkdir()
    _red_car_image(images / "1.jpg")
    src = _standard(tmp_path, [_car(1)])
    reads = []
    real = Path.read_text

    def spy(self, *args, **kwargs):
        reads.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", spy)
    assert _build(src, images, tmp_path / "ds") == 0
    assert reads.count("results.jsonl") == 0 and reads.count("rejects.jsonl") == 0
    reads.clear()
    assert _build(src, images, tmp_path / "ds") == 0  # a rerun reads the earlier results once
    assert reads.count("results.jsonl") == 1 and reads.count("rejects.jsonl") == 0


def test_group_file_names_may_not_leave_the_split_folder(tmp_path):
    from colorist.dataset.schema import DatasetError, load_groups

    folder = tmp_path / "images" / "train"
    folder.mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes(b"x")
    (folder / "metadata.jsonl").write_text(json.dumps({"group": "g", "file_name": "a"}) + "\n")
    desc = {"category": "car", "color": "red", "variants": [
        {"color": "red", "caption": "a red car", "file_name": "../../secret.jpg"},
        {"color": "blue", "caption": "a blue car", "file_name": "/etc/hostname"}]}
    (folder / "g.json").write_text(json.dumps(desc))
    with pytest.raises(DatasetError, match="leaves"):
        load_groups(tmp_path, "train")
    (folder / "metadata.jsonl").write_text(json.dumps({"group": "../../x"}) + "\n")
    with pytest.raises(DatasetError, match="leaves"):
        load_groups(tmp_path, "train")


def test_schema_and_eval_do_not_import_train():
    import subprocess
    import sys

    code = ("import sys, colorist.dataset.schema; assert 'torch' not in sys.modules; "
            "import colorist.eval.color, colorist.eval.__main__; "
            "assert not [m for m in sys.modules if m.startswith('colorist.train')], "
            "[m for m in sys.modules if m.startswith('colorist.train')]")
    pytest.importorskip("torch")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("budget", [0, 3, 8])
def test_build_on_a_full_disk_ends_cleanly_and_a_rerun_completes(tmp_path, monkeypatch, capsys,
                                                                 budget):
    import errno

    import colorist.io.atomic as atomic

    images = tmp_path / "images"
    images.mkdir()
    for i in (1, 2):
        _red_car_image(images / f"{i}.jpg")
    src = _standard(tmp_path, [_car(1), _car(2)])
    out = tmp_path / "ds"
    real, left = atomic._write_all, {"n": budget}

    def write_all(f, data):
        if left["n"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        left["n"] -= 1
        real(f, data)

    monkeypatch.setattr(atomic, "_write_all", write_all)
    assert _build(src, images, out) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "rerun" in err and "Traceback" not in err
    monkeypatch.setattr(atomic, "_write_all", real)
    assert _build(src, images, out) == 0
    summary = json.loads((out / "dataset_summary.json").read_text())
    built = summary["objects"] + summary["rejections"].get("recolor-check-failed", 0)
    assert built == 2 and "write-failed" not in summary["rejections"]
    rows = read_jsonl(out / "images" / "train" / "metadata.jsonl")
    assert len(rows) == 8 * summary["objects"]
