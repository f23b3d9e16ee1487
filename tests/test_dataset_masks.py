"""The dataset builder's mask step: --mask-source coco|grounded-sam|clipseg, --refine-color,
rejections, and resume (masks already written are not recomputed)."""

import json

import cv2
import numpy as np
import pytest

pytest.importorskip("spacy")
pytest.importorskip("onnxruntime")
from colorist.dataset.__main__ import main  # noqa: E402
from colorist.io import mask_from_coco, read_image, read_jsonl  # noqa: E402
from colorist.masks.sources import MaskResult  # noqa: E402

from .conftest import COCO_MINI  # noqa: E402

CAPS = COCO_MINI / "annotations" / "captions_train2017.json"
INST = COCO_MINI / "annotations" / "instances_train2017.json"


def build_args(out, *extra):
    return ["build", "--captions", str(CAPS), "--instances", str(INST), "--out", str(out),
            "--images", str(COCO_MINI / "images"), "--backend", "cpu", "--workers", "2",
            "--quiet", *extra]


def _records():
    from colorist.sources import load_coco

    return load_coco(CAPS, INST, [])


class CocoMasksForDogs:
    """A stand-in text-prompted source: the COCO mask for 'dog', a rejection otherwise."""

    name = "fake"

    def __init__(self):
        self.calls = []
        records, _ = _records()  # the one selected dog: image 30752, "a yellow lab"
        self.dog = next(i.segmentation for r in records if r.image_id == 30752
                        for i in r.instances if i.category == "dog")

    def predict(self, images, texts):
        self.calls.append(list(texts))
        out = []
        for image, text in zip(images, texts):
            if text == "dog":
                out.append(MaskResult(mask_from_coco(self.dog, image.shape[:2])))
            else:
                out.append(MaskResult(None, "mask-several-confident-boxes", f"3 boxes for {text}"))
        return out


def test_text_source_masks_are_used_rejected_and_resumed(tmp_path):
    from colorist.dataset.build import BuildConfig, build

    records, categories = _records()
    source = CocoMasksForDogs()
    cfg = BuildConfig(out=tmp_path, images=COCO_MINI / "images", backend="cpu", workers=2,
                      progress=False, mask_source="grounded-sam")
    summary = build(records, categories, cfg, mask_source=source)
    assert summary["objects"] == 1 and summary["per_category"] == {"dog": 1}
    assert summary["rejections"]["mask-several-confident-boxes"] == 7
    rejected = [r for r in read_jsonl(tmp_path / "rejects.jsonl")
                if r["reason"] == "mask-several-confident-boxes"]
    assert {r["error"] for r in rejected} >= {"3 boxes for car", "3 boxes for stop sign"}
    pngs = list((tmp_path / "masks" / "grounded-sam").rglob("*.png"))
    assert len(pngs) == 1 and "dog" in pngs[0].name
    desc = json.loads(next((tmp_path / "images").rglob("*_dog.json")).read_text())
    assert desc["mask"] == str(pngs[0].relative_to(tmp_path))
    image = read_image(next((tmp_path / "images").rglob("*_yellow_dog.jpg")))
    assert cv2.imread(str(pngs[0]), cv2.IMREAD_GRAYSCALE).shape == image.shape[:2]
    n_calls = sum(len(c) for c in source.calls)
    assert n_calls == 8
    # rerun: the dog's mask PNG is reused; only the 7 rejected objects go to the model again
    mtime = pngs[0].stat().st_mtime_ns
    summary2 = build(records, categories, cfg, mask_source=source)
    assert summary2["objects"] == 1 and pngs[0].stat().st_mtime_ns == mtime
    assert sum(len(c) for c in source.calls) - n_calls == 7
    assert "dog" not in {t for c in source.calls[-1:] for t in c}


def test_refine_color_with_coco_masks(tmp_path):
    assert main(build_args(tmp_path, "--refine-color")) == 0
    summary = json.loads((tmp_path / "dataset_summary.json").read_text())
    refined = sorted((tmp_path / "masks" / "coco-refined").rglob("*.png"))
    assert len(refined) >= summary["objects"] >= 1
    records, _ = _records()
    by_file = {r.file_name: r for r in records}
    for obj in (json.loads(p.read_text()) for p in (tmp_path / "images").rglob("*.json")):
        mask = cv2.imread(str(tmp_path / obj["mask"]), cv2.IMREAD_GRAYSCALE) > 0
        ann = next(a for a in by_file[obj["file_name"]].instances
                   if a.category == obj["category"])
        coco = mask_from_coco(ann.segmentation, mask.shape) > 0
        assert mask.any() and not (mask & ~coco).any()  # a subset of the COCO mask
    reasons = {r["reason"] for r in read_jsonl(tmp_path / "rejects.jsonl")}
    assert reasons <= {"no-category", "multiple-instances", "two-colours", "recolor-check-failed",
                       "conflicting-captions", "colour-not-in-palette",
                       "same-object-other-caption", "refine-color-not-found"}


def test_grounded_sam_build_end_to_end_with_tiny_models(tmp_path, capsys):
    from colorist.masks.__main__ import main as masks_main

    models = tmp_path / "models"
    assert masks_main(["export", "--sam", "tiny", "--dino", "tiny", "--dino-size", "96x128",
                       "--out", str(models), "--no-verify"]) == 0
    out = tmp_path / "ds"
    assert main(build_args(out, "--mask-source", "grounded-sam", "--mask-models",
                           str(models), "--box-threshold", "0.3", "--limit", "4")) == 0
    summary = json.loads((out / "dataset_summary.json").read_text())
    rejected = read_jsonl(out / "rejects.jsonl")
    mask_rejects = [r for r in rejected if r["reason"].startswith("mask-")]
    assert summary["objects"] + len(mask_rejects) + summary["rejections"].get(
        "recolor-check-failed", 0) == 4
    for r in mask_rejects:
        assert r["reason"] in {"mask-no-confident-box", "mask-several-confident-boxes",
                               "mask-empty"} and r["error"]
    masks = list((out / "masks" / "grounded-sam").rglob("*.png"))
    assert len(masks) == 4 - len(mask_rejects)


def test_text_source_without_models_is_a_clear_error(tmp_path, capsys):
    assert main(build_args(tmp_path, "--mask-source", "clipseg", "--limit", "1")) == 2
    assert "needs --mask-models DIR" in capsys.readouterr().err
    assert main(build_args(tmp_path, "--mask-source", "clipseg", "--mask-models",
                           str(tmp_path / "none"), "--limit", "1")) == 2
    assert "mask model folder not found" in capsys.readouterr().err


def test_mask_pngs_are_binary_images_of_the_image_size(tmp_path):
    from colorist.io.masks import write_mask_png as _write_png

    mask = np.zeros((7, 9), np.uint8)
    mask[2:5, 3:6] = 1
    _write_png(tmp_path / "a" / "m.png", mask)
    back = cv2.imread(str(tmp_path / "a" / "m.png"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(back > 0, mask > 0)
    assert not list((tmp_path / "a").glob("*.tmp*"))
