"""Side-by-side reports with intervals and paired tests; the eval CLI with several models
(tiny random CLIP and BLIP) and --images."""

import json
import types

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from colorist.eval.color import task_report  # noqa: E402
from colorist.eval.report import SignificanceConfig, write_report  # noqa: E402

COLORS = ["red", "blue", "green"]


def _groups(n=30):
    return types.SimpleNamespace(groups=[
        types.SimpleNamespace(id=f"g{i:02d}", colors=COLORS, original=i % 3) for i in range(n)])


def _result(bank, right: np.ndarray):
    """A colour-task result where the items flagged in ``right`` are chosen correctly."""
    mats = []
    for g, ok in zip(bank.groups, right):
        m = np.full((3, 3), 0.1)
        m[np.arange(3), np.arange(3)] = 0.5  # every image matches its own caption best...
        if not ok:
            m[g.original, (g.original + 1) % 3] = 0.9  # ...but this original is confused
        mats.append(m)
    return task_report(mats, bank, "originals")


FAST = SignificanceConfig(n_resamples=2000)


def test_report_gives_intervals_and_paired_tests(tmp_path):
    bank = _groups()
    good, bad = np.ones(30, bool), np.zeros(30, bool)
    half = np.arange(30) % 2 == 0
    results = {"good": {"color": _result(bank, good)}, "bad": {"color": _result(bank, bad)},
               "half": {"color": _result(bank, half)}}
    write_report(tmp_path, results, FAST)
    report = json.loads((tmp_path / "report.json").read_text())
    g = report["good"]
    assert g["ci"]["correct"] == {"mean": 1.0, "lo": 1.0, "hi": 1.0}  # constant: degenerate
    lo, hi = report["half"]["ci"]["correct"]["lo"], report["half"]["ci"]["correct"]["hi"]
    assert lo < 0.5 < hi
    vs = g["compare"]["bad"]["correct"]
    assert (vs["diff"], vs["lo"], vs["hi"]) == (1.0, 1.0, 1.0) and vs["p"] < 1e-3
    # the mirror entry is b - a with the same p
    back = report["bad"]["compare"]["good"]["correct"]
    assert (back["diff"], back["lo"], back["hi"], back["p"]) == (-1.0, -1.0, -1.0, vs["p"])
    half_vs_good = report["half"]["compare"]["good"]["correct"]
    assert half_vs_good["diff"] == pytest.approx(-0.5) and half_vs_good["hi"] < 0
    assert set(g["per_color_ci"]) == set(COLORS)
    md = (tmp_path / "report.md").read_text()
    assert "| good | bad | accuracy | +1.000 [+1.000, +1.000] |" in md
    assert "1.000 [1.000, 1.000]" in md and "Per-colour accuracy" in md
    assert (tmp_path / "color_per_color.png").stat().st_size > 0


def test_models_on_different_items_are_not_compared(tmp_path):
    a = _result(_groups(30), np.ones(30, bool))
    b = _result(_groups(20), np.ones(20, bool))
    write_report(tmp_path, {"a": {"color": a}, "b": {"color": b}}, FAST)
    report = json.loads((tmp_path / "report.json").read_text())
    assert "compare" not in report["a"] and "Paired differences" not in (
        tmp_path / "report.md").read_text()


def test_report_prints_both_flickr_protocols_and_references(tmp_path):
    from colorist.eval.flickr import expert_correlations

    flickr = {**expert_correlations([1, 2, 3, 4], [(1, 1, 2), (2, 1, 1), (3, 4, 2), (2, 4, 4)]),
              "score": "CLIP-S"}
    write_report(tmp_path, {"m": {"flickr": flickr}}, FAST)
    md = (tmp_path / "report.md").read_text()
    assert "| m | CLIP-S | 4 | 0.913 | 0.938 |" in md
    assert "| 12 | 63.0 |" in md  # 17/27 x 100
    assert "CLIP-S 51.2, RefCLIP-S 53.0, PAC-S 54.3" in md


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def dataset_and_models(tmp_path_factory):
    pytest.importorskip("spacy")
    from colorist.dataset.__main__ import main as dataset_main
    from colorist.dataset.synthetic import write_shapes
    from colorist.models.tiny import build_tiny_blip, build_tiny_clip

    root = tmp_path_factory.mktemp("evalcli")
    src = write_shapes(root / "src", n=8, seed=3)
    assert dataset_main(["build", "--standard", str(src), "--images", str(root / "src/images"),
                         "--out", str(root / "ds"), "--backend", "cpu", "--quiet",
                         "--split", "0.5"]) == 0
    words = ["triangle", "plain", "background"]
    build_tiny_clip(root / "clip", words=words)
    build_tiny_blip(root / "blip", words=words)
    return root


def test_group_scores_equal_scoring_the_raw_images(dataset_and_models):
    from colorist.dataset.bank import GroupBank
    from colorist.dataset.schema import load_groups
    from colorist.eval.color import score_groups
    from colorist.io import read_image
    from colorist.models import load_scorer

    root = dataset_and_models
    groups = load_groups(root / "ds", "val")[:2]
    for name in ("clip", "blip"):
        scorer = load_scorer(root / name, device="cpu")
        mats = score_groups(scorer, GroupBank.build(scorer, groups), batch_size=5)
        assert len(mats) == len(groups)
        for g, m in zip(groups, mats):
            direct = scorer.score([read_image(p) for p in g.paths], g.captions).numpy()
            np.testing.assert_allclose(m, direct, atol=1e-5)


def test_eval_cli_compares_several_models_on_all_images(dataset_and_models, tmp_path):
    from colorist.eval.__main__ import main
    from tests.test_eval import _write_flickr

    root = dataset_and_models
    clip, blip = str(root / "clip"), str(root / "blip") + "@itc"
    _write_flickr(tmp_path / "flickr")
    (tmp_path / "flickr" / "Flickr8k.token.txt").rename(tmp_path / "tok.txt")
    assert main(["color", "--model", clip, "--data", str(root / "ds"), "--out",
                 str(tmp_path / "ev"), "--flickr-dir", str(tmp_path / "flickr")]) == 2
    (tmp_path / "tok.txt").rename(tmp_path / "flickr" / "Flickr8k.token.txt")
    assert main(["color", "--model", clip, "--data", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "ev")]) == 2
    assert main(["color", "--model", clip, "--model", blip, "--data", str(root / "ds"),
                 "--images", "all", "--out", str(tmp_path / "ev"), "--flickr-dir",
                 str(tmp_path / "flickr")]) == 0
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    c, b = report[clip], report[blip]
    assert c["images"] == "all" and c["n"] == b["n"] > len(c["per_color_accuracy"])
    assert c["per_item"]["ids"] == b["per_item"]["ids"]
    assert set(c["ranking"]) == {"text", "image"} and set(c["ci"]) == {"correct", "text_rr",
                                                                       "image_rr"}
    assert c["score"] == "cosine" and b["score"] == "cosine"
    diff = c["compare"][blip]["correct"]
    assert diff["diff"] == pytest.approx(c["accuracy"] - b["accuracy"])
    assert 0 < diff["p"] <= 1
    assert np.asarray(c["confusion"]).sum() == c["n"]
    assert (tmp_path / "ev" / c["confusion_png"]).is_file()
    assert c["flickr"]["score"] == "CLIP-S" and c["flickr"]["published"]["n"] == 3 * 8
    md = (tmp_path / "ev" / "report.md").read_text()
    assert "## Colour choice (all)" in md and f"| {clip} | {blip} | accuracy |" in md
    assert "## Flickr8k-Expert" in md
    with pytest.raises(SystemExit):
        main(["color", "--model", clip, "--data", str(root / "ds"), "--images", "some",
              "--out", str(tmp_path / "ev2")])


def test_eval_cli_skips_models_that_cannot_be_loaded(dataset_and_models, tmp_path, capsys):
    from colorist.eval.__main__ import main
    from tests.test_probes_run import BAD_MESSAGES, bad_models, read_rejects

    root = dataset_and_models
    clip = str(root / "clip")
    bad = bad_models(tmp_path / "bad", root / "clip")
    out = tmp_path / "ev"
    capsys.readouterr()
    assert main(["color", "--model", clip, "--model", bad["missing"], "--data",
                 str(root / "ds"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"model {bad['missing']!r} skipped (model-unloadable)" in err
    assert "1 of 2 models skipped" in err
    assert list(json.loads((out / "report.json").read_text())) == [clip]
    assert bad["missing"] not in (out / "report.md").read_text()
    [r] = read_rejects(out)
    assert r["model"] == bad["missing"] and r["reason"] == "model-unloadable"
    assert BAD_MESSAGES["missing"] in r["error"]

    # only models that cannot be loaded: exit status 1, all in rejects.jsonl, the report of
    # the run before is left as it was
    before = (out / "report.json").read_bytes(), (out / "report.md").read_bytes()
    assert main(["color", *(a for m in bad.values() for a in ("--model", m)), "--data",
                 str(root / "ds"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no model could be evaluated (4 given, all skipped)" in err
    assert all(f"model {m!r} skipped" in err for m in bad.values())
    assert ((out / "report.json").read_bytes(), (out / "report.md").read_bytes()) == before
    rejects = read_rejects(out)
    assert [(r["model"], r["reason"]) for r in rejects] == [(m, "model-unloadable")
                                                             for m in bad.values()]
    for r, kind in zip(rejects, bad):
        assert BAD_MESSAGES[kind] in r["error"], (kind, r["error"])
