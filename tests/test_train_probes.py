"""``--probe-every``: probe figures in the training log and plot, equal to a probe run of the
saved model."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("spacy")

from colorist.train.probing import due, probe_metrics  # noqa: E402

# the 48-shape dataset and the tiny CLIP of the trainer's tests (session fixtures)
from .test_train import shapes_ds, tiny_model  # noqa: E402, F401

PROBES = {"n_per_color": 2, "stroop_repeats": 1, "image_size": 32, "fonts": ("simplex",),
          "colors": ("red", "green", "blue", "white", "black")}


def test_due_every_n_epochs_and_after_the_last():
    assert [e for e in range(1, 8) if due(3, e, 7)] == [3, 6, 7]
    assert [e for e in range(1, 5) if due(1, e, 4)] == [1, 2, 3, 4]
    assert not any(due(0, e, 4) for e in range(1, 5))


def test_probe_metrics_picks_the_four_figures_and_pools_colour_accuracy():
    entry = {"value": 0.25, "lo": 0.1, "hi": 0.4, "n": 8, "p": 0.5}
    report = {"stroop": {"ink_incongruent": entry, "word_over_ink": {**entry, "value": 0.5}},
              "achromatic": {"bias_index": {**entry, "value": -0.125}},
              # 3 of 5 and 2 of 3 right -> 5 of 8 pooled
              "tasks": {"whole": {"confusion": [[2, 1], [1, 1]]},
                        "object": {"confusion": [[1, 0], [1, 1]]}}}
    got = probe_metrics(report, n_resamples=200)
    assert got["ink_incongruent"] == {"value": 0.25, "lo": 0.1, "hi": 0.4, "n": 8}
    assert got["word_over_ink"]["value"] == 0.5 and got["achromatic_index"]["value"] == -0.125
    acc = got["color_accuracy"]
    assert acc["value"] == pytest.approx(5 / 8) and acc["n"] == 8
    assert 0 <= acc["lo"] <= 5 / 8 <= acc["hi"] <= 1
    assert probe_metrics({"tasks": {}}) == {}  # no task ran: no figure


def test_probe_every_logs_the_figures_of_the_model_being_trained(
        shapes_ds, tiny_model, tmp_path):  # noqa: F811 (the fixtures imported above)
    from PIL import Image

    from colorist.models import load_scorer
    from colorist.probes import ProbeConfig, build_suite, run_probes
    from colorist.train import TrainConfig, train

    out = tmp_path / "run"
    result = train(TrainConfig(model=str(tiny_model), data=str(shapes_ds), out=out,
                               epochs=3, lr=3e-3, groups_per_batch=4, progress=False,
                               device="cpu", compile="off", probe_every=2, probes=PROBES))
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log == result.log
    assert [("probes" in r) for r in log] == [False, True, True]  # epoch 2, and the last
    for row in log[1:]:
        assert set(row["probes"]) == {"ink_incongruent", "word_over_ink", "achromatic_index",
                                      "color_accuracy"}
        for p in row["probes"].values():
            assert p["lo"] <= p["value"] <= p["hi"] and p["n"] > 0
    # the last row is what a probe run of the saved (merged) model gives
    saved = load_scorer(out / "merged", device="cpu")
    again = probe_metrics(run_probes(saved, build_suite(ProbeConfig(**PROBES)), progress=False,
                                     n_resamples=2000), 2000)
    for key, p in again.items():
        assert log[-1]["probes"][key]["n"] == p["n"], key
        assert abs(log[-1]["probes"][key]["value"] - p["value"]) <= 1 / p["n"] + 1e-9, key
    with Image.open(out / "loss.png") as im:
        assert im.size == (1200, 350)  # loss panel + probe panel


def test_probe_every_cli_and_bad_value(shapes_ds, tiny_model, tmp_path, capsys):  # noqa: F811
    from colorist.train.__main__ import main

    args = ["--model", str(tiny_model), "--data", str(shapes_ds), "--epochs", "1",
            "--device", "cpu", "--compile", "off", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "bad"), "--probe-every", "-1"]) == 2
    assert "probe_every=-1: must be >= 0" in capsys.readouterr().err
    from colorist.train.__main__ import _config, parser

    cfg = _config(parser().parse_args([*args, "--out", "o", "--probe-every", "5",
                                       "--probe-n", "3"]))
    assert cfg.probe_every == 5 and cfg.probes == {"n_per_color": 3, "stroop_repeats": 1}
