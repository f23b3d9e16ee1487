"""Colourisation jobs: training (prior, checkpoints, resume, rejects), prediction (resume,
contact sheet), evaluation (AuC of the grey baseline by hand, CLIP colour choice), CLI."""

import json

import numpy as np
import pytest
import torch

from colorist.colorize.__main__ import main, parser
from colorist.colorize.evaluate import PROMPT, clip_color_choice
from colorist.colorize.metrics import auc
from colorist.colorize.train import ColorizeTrainConfig, train
from colorist.colorize.weights import load_model
from colorist.io import read_image, write_image
from colorist.io.run_config import ConfigChangedError
from colorist.naming import load_namer
from colorist.recolor.reference import rgb_to_lab


def scene(rng, h=32, w=40) -> np.ndarray:
    """Bright blue sky over a darker green field, with noise."""
    img = np.empty((h, w, 3), np.float64)
    cut = rng.integers(h // 3, 2 * h // 3)
    img[:cut] = (110, 170, 235)
    img[cut:] = (60, 130, 40)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def folder(tmp_path, rng):
    d = tmp_path / "images"
    (d / "sub").mkdir(parents=True)
    for i in range(5):
        write_image(d / ("sub" if i % 2 else "") / f"s{i}.png", scene(rng))
    (d / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return d


def _cfg(folder, out, **kw):
    base = dict(images=folder, out=out, model="eccv16-w8", steps=4, batch_size=3, crop=16,
                resize=24, lr=1e-3, workers=0, checkpoint_every=2, val_fraction=0.0,
                progress=False, prior_images=10)
    return ColorizeTrainConfig(**{**base, **kw})


def test_train_writes_resumes_and_lists_rejects(folder, tmp_path):
    out = tmp_path / "run"
    r = train(_cfg(folder, out))
    assert r.steps == 4 and np.isfinite(r.final_loss)
    assert [row["step"] for row in map(json.loads, (out / "log.jsonl").open())] == [2, 4]
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert {x["image"].rsplit("/", 1)[-1] for x in rejects} == {"broken.jpg"}
    assert {x["reason"] for x in rejects} == {"image-undecodable"}
    with np.load(out / "prior.npz") as p:
        assert p["counts"].sum() == 5 * 4 * 4  # 5 centre crops of 16 x 16: 4 x 4 cells each
        assert (p["prior"] * p["weights"]).sum() == pytest.approx(1)
    model = load_model(out / "model.safetensors")
    assert model.width == 0.125 and model.num_bins == 261
    r2 = train(_cfg(folder, out, steps=6))  # resumes at step 4
    assert r2.steps == 6
    assert [row["step"] for row in map(json.loads, (out / "log.jsonl").open())] == [2, 4, 6]
    with pytest.raises(ConfigChangedError, match="lr"):
        train(_cfg(folder, out, steps=8, lr=0.5))


def test_predict_cli_resumes_and_writes_a_sheet(folder, tmp_path, capsys):
    torch.manual_seed(0)
    from colorist.colorize import build_model, gamut_bins, save_model

    save_model(build_model("eccv16-w8", gamut_bins()), tmp_path / "m.safetensors")
    args = ["predict", "--model", str(tmp_path / "m.safetensors"), "--images", str(folder),
            "--out", str(tmp_path / "out"), "--size", "32", "--temperatures", "0.38", "1",
            "--sheet", str(tmp_path / "sheet.jpg"), "--sheet-images", "2"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first == {"written": 5, "skipped_existing": 0, "rejected": 1,
                     "out": str(tmp_path / "out")}
    names = sorted(p.name for p in (tmp_path / "out").glob("*.jpg"))
    assert names[:2] == ["s0_T0.38.jpg", "s0_T1.jpg"] and "sub__s1_T1.jpg" in names
    out = read_image(tmp_path / "out" / "s0_T1.jpg")
    assert out.shape == (32, 40, 3)
    sheet = read_image(tmp_path / "sheet.jpg")
    assert sheet.shape[0] == 2 * 192  # two rows: grey | T=1 | T=0.38 | T=0.1 | T=0 | original
    main(args)
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["written"] == 0 and again["skipped_existing"] == 5


def test_eval_cli_grey_baseline_by_hand(folder, tmp_path, capsys):
    from colorist.colorize import build_model, gamut_bins, save_model

    save_model(build_model("eccv16-w8", gamut_bins()), tmp_path / "m.safetensors")
    report_path = tmp_path / "report.json"
    main(["eval", "--model", str(tmp_path / "m.safetensors"), "--images", str(folder),
          "--split", "all", "--size", "32", "--side", "64", "--report", str(report_path)])
    report = json.loads(report_path.read_text())
    assert report["images"] == 5 and [r["reason"] for r in report["rejects"]] == [
        "image-undecodable"]
    chroma = [np.linalg.norm(rgb_to_lab(read_image(p))[..., 1:], axis=-1).ravel()
              for p in sorted(folder.rglob("s*.png"))]
    assert report["grey"]["auc"] == pytest.approx(auc(np.concatenate(chroma)), abs=1e-9)
    for m in ("model", "grey"):
        assert 0 <= report[m]["auc_rebalanced"] <= 1 and 0 <= report[m]["naming_agreement"] <= 1
    assert report["grey"]["naming_agreement"] < 0.2  # blue and green scenes named grey


class _NamerScorer:
    """A stand-in CLIP: image embedding = one-hot of the namer's name of the image; text
    embedding = one-hot of the term in the prompt."""

    def __init__(self, namer):
        self.namer, self.terms = namer, list(namer.terms)

    def encode_images(self, images):
        return torch.eye(len(self.terms))[[self.terms.index(self.namer.region_name(im))
                                           for im in images]]

    def encode_texts(self, texts):
        return torch.eye(len(self.terms))[[[PROMPT.format(t) for t in self.terms].index(x)
                                           for x in texts]]


def test_clip_color_choice_accuracies():
    namer = load_namer()
    red, blue = np.full((8, 8, 3), (220, 20, 30), np.uint8), np.full((8, 8, 3), (20, 40, 220),
                                                                        np.uint8)
    grey = np.full((8, 8, 3), 128, np.uint8)
    images = {"original": [red, blue], "model": [red, grey], "grey": [grey, grey]}
    got = clip_color_choice(_NamerScorer(namer), images, namer)
    assert got == {"accuracy_original": 1.0, "accuracy_model": 0.5, "accuracy_grey": 0.0,
                   "agreement_model_original": 0.5, "agreement_grey_original": 0.0}


def test_cli_options_have_help_and_defaults():
    from tests.test_cli_help import _parsers, _problems

    problems = [p for name, sub in _parsers(parser(), "colorize") for p in _problems(sub, name)]
    assert problems == []
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--images", "/nonexistent-dir", "--out", "x"])


def test_sides_must_be_multiples_of_8(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["predict", "--model", __file__, "--images", str(tmp_path),
                             "--out", str(tmp_path / "o"), "--size", "30"])
    assert "--size: 30 is not a multiple of 8" in capsys.readouterr().err
    with pytest.raises(ValueError, match="crop must be a positive multiple of 8, got 20"):
        ColorizeTrainConfig(tmp_path, tmp_path / "o", crop=20)


def test_bench_prints_and_writes_only_with_save(tmp_path, monkeypatch, capsys):
    import bench.colorize as bc

    enc = [{"encoder": "numpy reference", "images": "1x8x8", "ms": 2.0, "mpx_s": 0.5,
            "gb_s": 0.01}]
    tr = [{"config": "eager fp32", "model": "eccv16-w8", "batch": "1x8x8", "steps_per_s": 3.0,
           "x_eager": 1.0, "first_step_s": 0.1}]
    monkeypatch.setattr(bc, "encoder_rows", lambda *a: enc)
    monkeypatch.setattr(bc, "train_rows", lambda *a: tr)
    bc.main(["--out", str(tmp_path / "res")])
    out = capsys.readouterr().out
    assert "| numpy reference | 1x8x8 | 2.0 | 0.50 |" in out and "not saved" in out
    assert not (tmp_path / "res").exists()
    bc.main(["--out", str(tmp_path / "res"), "--save"])
    assert "| eager fp32 | eccv16-w8 | 1x8x8 | 3.00 |" in (
        tmp_path / "res" / "colorize-cpu.md").read_text()


def test_synthetic_scenes_are_named_as_drawn(tmp_path):
    from colorist.colorize.synthetic import write_scenes

    paths = write_scenes(tmp_path / "s", n=2, seed=3)
    assert [p.name for p in paths] == ["scene_00000.png", "scene_00001.png"]
    namer = load_namer()
    for p in paths:
        img = read_image(p)
        assert img.shape == (96, 128, 3)
        assert namer.region_name(img[:8]) == "blue"  # sky above the highest horizon
        assert namer.region_name(img[-4:]) == "green"  # ground (trunks are thin)


def test_coco_listing_skips_unsafe_names_and_split_is_seeded(folder, tmp_path):
    from colorist.colorize.data import list_images, split

    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps({"images": [
        {"id": 1, "file_name": "s0.png"}, {"id": 2, "file_name": "sub/s1.png"},
        {"id": 3, "file_name": "../../etc/passwd"}, {"id": 4}]}))
    rejects = []
    files = list_images(folder, coco, rejects)
    assert [f.name for f in files] == ["s0.png", "s1.png"]
    assert [(r.reason, r.id) for r in rejects] == [("unsafe-path", "3"), ("unsafe-path", "4")]
    assert "leaves" in rejects[0].error
    every = list_images(folder)
    assert len(every) == 6  # broken.jpg is listed; it is rejected when read
    train_a, held_a = split(every, 0.3, seed=5)
    assert split(list(reversed(every)), 0.3, seed=5) == (train_a, held_a)
    assert len(held_a) == 2 and not set(train_a) & set(held_a)
    assert split(every, 0.3, seed=6) != (train_a, held_a)


def test_cli_bad_inputs_give_one_line_errors(folder, tmp_path, capsys):
    """No image, a non-model --model (pickle, text, .pth pickle), a non-json --coco-json, a
    missing --scorer, an empty held-out split: ``error: ...`` and exit 1, no traceback;
    --report naming a folder is a usage error."""
    import pickle

    from colorist.colorize import build_model, gamut_bins, save_model

    model = tmp_path / "m.safetensors"
    save_model(build_model("eccv16-w8", gamut_bins()), model)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no image here")
    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "m.pth").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "m.txt").write_text("not a model")
    (tmp_path / "c.json").write_text("not json")
    (tmp_path / "l.json").write_text("[1]")
    pred = ["predict", "--size", "32", "--out", str(tmp_path / "o")]
    ev = ["eval", "--size", "32", "--model", str(model), "--images", str(folder)]
    cases = [
        (["train", "--images", str(empty), "--out", str(tmp_path / "t"), "--steps", "1"],
         f"no images in {empty}"),
        (pred + ["--model", str(model), "--images", str(empty)], f"no images in {empty}"),
        (pred + ["--model", str(tmp_path / "m.pkl"), "--images", str(folder)],
         "m.pkl: not a safetensors file"),
        (pred + ["--model", str(tmp_path / "m.txt"), "--images", str(folder)],
         "m.txt: not a safetensors file"),
        (pred + ["--model", str(tmp_path / "m.pth"), "--images", str(folder)],
         "m.pth: not a loadable .pth state dict"),
        (ev + ["--split", "all", "--coco-json", str(tmp_path / "c.json")],
         "c.json: not a COCO json"),
        (ev + ["--split", "all", "--coco-json", str(tmp_path / "l.json")],
         "l.json: not a COCO json"),
        (ev + ["--split", "all", "--side", "32", "--scorer", str(tmp_path / "nope")],
         "cannot load the model"),
        (ev + ["--val-fraction", "0"], "no readable image among 0 files"),
    ]
    for args, message in cases:
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert "error: " in err and message in err and "Traceback" not in err, (args, err)
    with pytest.raises(SystemExit) as e:
        main(ev + ["--report", str(empty)])
    assert e.value.code == 2
    assert f"--report: {empty} is a folder, not a file" in capsys.readouterr().err
