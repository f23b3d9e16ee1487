"""Dataset builder on coco-mini: hand-checked selections, build, determinism, resume,
sources and their errors."""

import json

import numpy as np
import pytest

pytest.importorskip("spacy")
from colorist.dataset.__main__ import main  # noqa: E402
from colorist.io import read_image, read_jsonl  # noqa: E402
from colorist.palette import DEFAULT_PALETTE  # noqa: E402
from colorist.sources import SourceError, load_coco, load_standard  # noqa: E402

from .conftest import COCO_MINI  # noqa: E402

needs_coco = pytest.mark.skipif(not COCO_MINI.is_dir(), reason="../shared coco-mini absent")
CAPS = COCO_MINI / "annotations" / "captions_train2017.json"
INST = COCO_MINI / "annotations" / "instances_train2017.json"


def coco_args(out):
    return ["--captions", str(CAPS), "--instances", str(INST), "--out", str(out), "--quiet"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not COCO_MINI.is_dir():
        pytest.skip("../shared coco-mini absent")
    out = tmp_path_factory.mktemp("ds")
    assert main(["build", *coco_args(out), "--images", str(COCO_MINI / "images"),
                 "--backend", "cpu", "--workers", "2"]) == 0
    return out


@needs_coco
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
               for r in read_jsonl(tmp_path / "rejected.jsonl")}
    for expected in [
        (249346, "bear", "two-colours"),               # "black and white panda bear"
        (332078, "truck", "conflicting-captions"),     # green truck vs white truck
        (89232, "toilet", "multiple-instances"),       # "two white toilets"
        (72258, None, "colour-not-in-palette"),        # "a silver container"
        (194322, "fire hydrant", "same-object-other-caption"),
    ]:
        assert expected in reasons, expected


@needs_coco
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
    assert DEFAULT_PALETTE.dominant_color(recoloured, _mask(built, desc)) == "blue"
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
    assert (built / "rejected.jsonl").exists()


def _mask(root, desc):
    from colorist.io import mask_from_coco
    inst = json.loads(INST.read_text())
    ann = next(a for a in inst["annotations"] if a["id"] == desc["annotation_id"])
    return mask_from_coco(ann["segmentation"], (desc["height"], desc["width"]))


@needs_coco
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


@needs_coco
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
    rejected = read_jsonl(out / "rejected.jsonl")
    by_image = {r["image_id"]: r for r in rejected}
    assert by_image[6]["reason"] == "malformed-record" and "height" in by_image[6]["error"]
    for i, needle in ((2, "2.jpg"), (3, "3.jpg"), (4, "out of bounds")):
        assert by_image[i]["reason"] == "image-or-mask-error", by_image[i]
        assert needle in by_image[i]["error"], by_image[i]
    assert 5 not in by_image  # a caption without a colour word is not a candidate at all
    assert summary["rejections"] == {"malformed-record": 1, "image-or-mask-error": 3}


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
    assert problems[0]["reason"] == "unknown-image" and problems[0]["annotation_id"] == 11
    assert main(["mine", "--captions", str(tmp_path / "c.json"), "--instances",
                 str(tmp_path / "i.json"), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert [o["annotation_id"] for o in read_jsonl(tmp_path / "o" / "objects.jsonl")] == [10]
    assert read_jsonl(tmp_path / "o" / "rejected.jsonl")[0]["reason"] == "unknown-image"
