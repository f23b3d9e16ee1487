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
    images = built / "images"
    desc = json.loads((images / next(p.name for p in images.glob("*_525891_stop-sign.json")))
                      .read_text())
    assert len(desc["variants"]) == 8 and desc["variants"][0]["original"]
    by_color = {v["color"]: v for v in desc["variants"]}
    assert by_color["orange"]["caption"] == "An orange stop sign next to a large bush with red " \
                                            "flowers."
    recoloured = read_image(images / by_color["blue"]["file_name"])
    assert by_color["blue"]["file_name"].endswith("_525891_blue_stop-sign.jpg")
    assert DEFAULT_PALETTE.dominant_color(recoloured, _mask(built, desc)) == "blue"
    meta = read_jsonl(images / "metadata.jsonl")
    assert len(meta) == summary["images"] and all((images / m["file_name"]).exists() for m in meta)
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
    files = {p.name: p.read_bytes() for p in (tmp_path / "images").iterdir()}
    for name, data in files.items():
        if name != "metadata.jsonl":
            assert (built / "images" / name).read_bytes() == data, name  # same as full build
    victim = next(p for p in (tmp_path / "images").iterdir() if p.suffix == ".jpg")
    victim.unlink()
    assert main(args) == 0
    run = json.loads((tmp_path / "summary.json").read_text())
    assert run["resumed"] == 2 and run["done"] == 1 and victim.read_bytes() == files[victim.name]


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
