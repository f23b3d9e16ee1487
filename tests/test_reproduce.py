"""``python -m colorist.reproduce thesis`` end to end on coco-mini with a tiny random CLIP and a
hand-made Flickr8k-Expert folder; the resumable stages (skip, refuse, rebuild)."""

import json
import shutil

import pytest

from colorist.io.run_config import ConfigChangedError
from colorist.reproduce.stages import StageRunner

from .conftest import COCO_MINI


def test_stage_runs_once_and_resumes_after_a_failure(tmp_path):
    runner, calls = StageRunner(tmp_path, log=lambda line: None), []

    def fn(folder):
        calls.append(folder)
        (folder / "part").write_text("kept")
        if len(calls) == 1:
            raise OSError("disk full")
        return {"n": len(calls)}

    with pytest.raises(OSError, match="disk full"):
        runner.run("a", {"x": 1}, fn)
    assert not (tmp_path / "a" / "stage.json").exists()  # not finished: no result
    first = runner.run("a", {"x": 1}, fn)  # same settings: runs again in the same folder
    assert first.result == {"n": 2} and not first.skipped and len(calls) == 2
    again = StageRunner(tmp_path, log=lambda line: None).run("a", {"x": 1}, fn)
    assert again.skipped and again.result == {"n": 2} and again.hash == first.hash
    assert len(calls) == 2


def test_changed_settings_are_refused_or_redone_with_rebuild(tmp_path):
    lines = []
    StageRunner(tmp_path, log=lines.append).run("train-1", {"lr": 1e-4}, lambda f: {"v": 1})
    with pytest.raises(ConfigChangedError,
                       match=r"stage train-1: .*lr: 0\.0001 -> 0\.01.*--rebuild"):
        StageRunner(tmp_path).run("train-1", {"lr": 0.01}, lambda f: {"v": 2})
    assert json.loads((tmp_path / "train-1" / "stage.json").read_text())["result"] == {"v": 1}
    r = StageRunner(tmp_path, rebuild=True, log=lines.append).run("train-1", {"lr": 0.01},
                                                                   lambda f: {"v": 2})
    assert r.result == {"v": 2} and not r.skipped
    moved = list((tmp_path / "replaced").glob("*/train-1/stage.json"))
    assert len(moved) == 1 and json.loads(moved[0].read_text())["result"] == {"v": 1}
    assert any("previous run moved to" in line for line in lines)
    # a stage folder with a result but no settings file: unknown settings, refused
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "stage.json").write_text("{}")
    with pytest.raises(ConfigChangedError, match="settings are unknown"):
        StageRunner(tmp_path).run("b", {}, lambda f: {})


def test_cli_help_and_usage_errors(tmp_path, capsys):
    from colorist.reproduce.__main__ import config, main, parser

    from .test_cli_help import _parsers, _problems

    problems = [p for name, sub in _parsers(parser(), "reproduce") for p in _problems(sub, name)]
    assert not problems, problems
    base = ["thesis", "--coco", str(COCO_MINI), "--out", str(tmp_path)]
    cfg = config(parser().parse_args(base))
    assert cfg.epochs == (10, 50) and cfg.model == "openai/clip-vit-base-patch32"
    assert "probe_every" not in cfg.train  # the probe settings are no training setting then
    cfg = config(parser().parse_args([*base, "--probe-every", "5", "--probe-seed", "3"]))
    assert cfg.train["probe_every"] == 5 and cfg.train["probes"]["seed"] == 3
    assert main([*base, "--epochs", "10,0"]) == 2
    assert "epoch counts must be at least 1" in capsys.readouterr().err
    assert main(["thesis", "--coco", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "captions_train2017.json: no such COCO annotation file" in capsys.readouterr().err


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("spacy")

THESIS_ROWS = {"color_accuracy": [0.63, 0.67, 0.76],
               "complementary_accuracy": [0.524, 0.627, 0.653],
               "flickr_kendall_tau_b": [0.573, 0.505, 0.397]}


def _args(model, flickr, out, *extra):
    return ["thesis", "--coco", str(COCO_MINI), "--flickr", str(flickr), "--model", str(model),
            "--out", str(out), "--epochs", "1,2", "--device", "cpu", "--backend", "cpu",
            "--workers", "2", "--quiet", "--probe-n", "2", "--probe-image-size", "32",
            "--probe-stroop-repeats", "1", *extra]


@pytest.fixture(scope="module")
def thesis_run(tmp_path_factory):
    """The whole chain, once: (tiny model, flickr folder, OUT)."""
    from colorist.models import build_tiny_clip
    from colorist.reproduce.__main__ import main

    from .test_eval import _write_flickr

    root = tmp_path_factory.mktemp("thesis")
    build_tiny_clip(root / "clip", words=["hydrant", "sign", "sheep", "sink", "teddy"])
    _write_flickr(root / "flickr")
    assert main(_args(root / "clip", root / "flickr", root / "out")) == 0
    return root / "clip", root / "flickr", root / "out"


def _stage(out, name):
    return json.loads((out / name / "stage.json").read_text())["result"]


def test_thesis_chain_end_to_end(thesis_run):
    from colorist.dataset.schema import load_groups
    from colorist.eval.__main__ import evaluate
    from colorist.models import load_scorer

    model, flickr, out = thesis_run
    report = json.loads((out / "report.json").read_text())
    assert report["models"] == ["pretrained", "1 epoch", "2 epochs"]
    assert {k: report["thesis"][k] for k in THESIS_ROWS} == THESIS_ROWS
    assert [s["name"] for s in report["stages"]] == [
        "mine", "dataset", "eval-pretrained", "train-1", "eval-1", "train-2", "eval-2"]
    # coco-mini's hand-checked selection (tests/test_dataset.py): 4 main + 4 complementary
    assert _stage(out, "mine")["per_group"] == {"main": 4, "complementary": 4}
    assert len(load_groups(out / "dataset", "val")) == 1
    m = report["metrics"]
    assert {e["n"] for e in m["complementary_accuracy"].values()} == {4}
    assert {e["n"] for e in m["flickr_kendall_tau_b"].values()} == {8}  # 4 images x 2
    for key in ("probe_ink_incongruent", "probe_word_over_ink", "probe_achromatic_index",
                "probe_color_accuracy"):
        assert set(m[key]) == set(report["models"]), key
    # the pretrained column is what colorist.eval gives for the model on the built dataset
    direct = evaluate(load_scorer(model, device="cpu"), out / "dataset", "val", flickr)
    pre = {k: v["pretrained"]["value"] for k, v in m.items()}
    assert pre["color_accuracy"] == direct["color"]["accuracy"]
    assert pre["complementary_accuracy"] == direct["complementary"]["accuracy"]
    assert pre["flickr_kendall_tau_b"] == pytest.approx(direct["flickr"]["kendall_tau_b"])
    # 2 epochs resumed from the 1-epoch checkpoint: its first log row is that run's, to the
    # wall-clock seconds
    log1, log2 = _stage(out, "train-1")["log"], _stage(out, "train-2")["log"]
    assert [r["epoch"] for r in log2] == [1, 2] and log2[0] == log1[0]
    from safetensors.torch import load_file  # the fine-tuned models did move off the base

    lora = load_file(str(out / "train-2" / "adapter" / "adapter_model.safetensors"))
    assert any(float(v.abs().max()) > 0 for k, v in lora.items() if "lora_B" in k)
    md = (out / "report.md").read_text()
    assert "| thesis: pretrained | thesis: 10 epochs | thesis: 50 epochs |" in md
    assert "| 0.630 | 0.670 | 0.760 |" in md and "| 0.573 | 0.505 | 0.397 |" in md
    probes = json.loads((out / "probes" / "report.json").read_text())
    assert list(probes["models"]) == report["models"]
    for name in ("report.png", "eval/report.md", "train-2/merged/config.json",
                 "dataset/images/complementary/metadata.jsonl"):
        assert (out / name).is_file(), name


def test_rerun_skips_refuses_changes_and_rebuilds_them(thesis_run, tmp_path, capsys):
    from colorist.reproduce.__main__ import main

    model, flickr, first = thesis_run
    out = tmp_path / "out"
    shutil.copytree(first, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert main(_args(model, flickr, out)) == 0
    assert capsys.readouterr().out.count("done earlier with the same settings, skipped") == 7
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    # other evaluation settings: refused, nothing touched
    assert main(_args(model, flickr, out, "--no-probes")) == 2
    assert "stage eval-pretrained: " in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    # --rebuild: the evaluations run again (old ones set aside), the rest is kept
    assert main(_args(model, flickr, out, "--no-probes", "--rebuild")) == 0
    text = capsys.readouterr().out
    assert text.count("skipped") == 4 and text.count("previous run moved to") == 3
    assert len(list((out / "replaced").glob("*/eval-*/stage.json"))) == 3
    report = json.loads((out / "report.json").read_text())
    assert not any(k.startswith("probe_") for k in report["metrics"])
    assert _stage(out, "train-2") == _stage(first, "train-2")
