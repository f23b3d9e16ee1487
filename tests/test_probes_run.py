"""run_probes, the report and ``python -m colorist.eval probes``: a tiny random CLIP through
the scorer registry, and scorers with known behaviour (they see the ink, read the word, or
are blind to achromatic colours) whose metrics are known exactly."""

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from colorist.probes import ProbeConfig, build_suite, run_probes, write_probe_report  # noqa: E402
from colorist.probes.config import COLOR_TASKS  # noqa: E402
from colorist.probes.run import _fill  # noqa: E402

COLORS = ("black", "white", "red", "blue", "yellow")
SMALL = dict(colors=COLORS, n_per_color=2, image_size=48, stroop_repeats=1,
             fonts=("simplex", "duplex"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from colorist.models import build_tiny_clip

    path = tmp_path_factory.mktemp("tiny") / "clip"
    build_tiny_clip(path, words=["triangle", "hexagon", "star", "cross", "word", "written",
                                 "text", "says", "colored", "color"])
    return path


@pytest.fixture(scope="module")
def suite():
    return build_suite(ProbeConfig(**SMALL))


class KnownScorer:
    """Image embedding: one-hot of the colour ``answer(stimulus)``; text embedding: one-hot
    of the colour word in the prompt. Images are matched to stimuli by their bytes."""

    name = "known"
    device = torch.device("cpu")

    def __init__(self, suite, answer):
        self.colors = suite.config.colors
        self.by_bytes = {self._key(s.render()[0]): answer(s) for s in suite.all()}

    @staticmethod
    def _key(image) -> str:
        return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()

    def _onehot(self, color):
        v = torch.zeros(len(self.colors))
        v[self.colors.index(color)] = 1
        return v

    def encode_images(self, images, batch_size=64):
        return torch.stack([self._onehot(self.by_bytes[self._key(im)]) for im in images])

    def encode_texts(self, texts, batch_size=256):
        words = [[c for c in self.colors if c in t.lower().replace(".", " ").split()]
                 for t in texts]
        assert all(len(w) == 1 for w in words), texts
        return torch.stack([self._onehot(w[0]) for w in words])


def _run(scorer, suite):
    return run_probes(scorer, suite, batch_size=16, progress=False, n_resamples=200)


def test_a_scorer_that_sees_the_colour_is_right_everywhere(suite):
    r = _run(KnownScorer(suite, lambda s: s.label), suite)
    for task in COLOR_TASKS:
        t = r["tasks"][task]
        assert t["accuracy"] == {"value": 1.0, "lo": 1.0, "hi": 1.0, "n": 10}
        assert all(v["value"] == 1.0 and v["n"] == 2 for v in t["per_color"].values())
        assert np.array_equal(t["confusion"], 2 * np.eye(5, dtype=int))
    a = r["achromatic"]
    assert a["bias_index"]["value"] == 0.0 and a["bias_index"]["p"] == 1.0
    assert a["achromatic_recall"]["n"] == 12 and a["chromatic_recall"]["n"] == 18
    assert a["label_ratio"] == 1.0
    s = r["stroop"]
    for key in ("ink_congruent", "ink_incongruent", "ink_neutral"):
        assert s[key]["value"] == 1.0
    assert s["word_over_ink"]["value"] == 0.0 and s["interference"]["value"] == 0.0
    # the word prompts of an ink-seer choose the ink: right on the 5 congruent of 25 words
    assert s["word_reading"] == {"value": 0.2, "lo": pytest.approx(s["word_reading"]["lo"]),
                                 "hi": pytest.approx(s["word_reading"]["hi"]), "n": 25}
    json.dumps(r)  # JSON-able


def test_a_word_reader_shows_full_stroop_interference(suite):
    def reads(s):
        return s.word if getattr(s, "word", None) else s.label

    s = _run(KnownScorer(suite, reads), suite)["stroop"]
    assert s["ink_incongruent"]["value"] == 0.0 and s["ink_incongruent"]["n"] == 20
    assert s["ink_congruent"]["value"] == 1.0 and s["ink_neutral"]["value"] == 1.0
    assert s["word_over_ink"]["value"] == 1.0 and s["word_reading"]["value"] == 1.0
    assert s["interference"]["value"] == 1.0 and s["interference"]["n"] == 20
    assert s["interference"]["lo"] == 1.0 and s["interference"]["p"] < 0.01
    assert s["facilitation"]["value"] == 0.0
    assert np.diag(s["heatmaps"]["ink_rate"]).tolist() == [1.0] * 5
    off = ~np.eye(5, dtype=bool)
    assert (np.array(s["heatmaps"]["word_rate"])[off] == 1).all()
    assert (np.array(s["heatmaps"]["ink_rate"])[off] == 0).all()


def test_an_achromatic_blind_scorer_has_bias_index_one(suite):
    def blind(s):
        return "blue" if s.label in ("black", "white") else s.label

    a = _run(KnownScorer(suite, blind), suite)["achromatic"]
    assert a["achromatic_recall"]["value"] == 0.0 and a["chromatic_recall"]["value"] == 1.0
    assert a["bias_index"]["value"] == 1.0 and a["bias_index"]["n"] == 6  # 2 slots x 3 tasks
    assert a["achromatic_label_rate"]["value"] == 0.0 and a["label_ratio"] == 0.0


def test_tiny_clip_report_matches_scoring_each_stimulus_by_hand(tiny, suite):
    from colorist.models import load_scorer

    scorer = load_scorer(tiny, device="cpu")
    r = _run(scorer, suite)
    cfg = suite.config
    for task in ("object", "background"):  # prompts name each stimulus' shape
        items = suite.stimuli[task]
        img = scorer.encode_images([s.render()[0] for s in items])
        prompts = cfg.prompts[task]
        txt = {shape: scorer.encode_texts(_fill(prompts, COLORS, shape=shape))
               for shape in {s.shape for s in items}}
        pred = [COLORS[int((txt[s.shape] @ e).reshape(len(prompts), -1).mean(0).argmax())]
                for s, e in zip(items, img)]
        confusion = np.zeros((5, 5), int)
        for s, p in zip(items, pred):
            confusion[COLORS.index(s.label), COLORS.index(p)] += 1
        assert r["tasks"][task]["confusion"] == confusion.tolist(), task
        hits = np.mean([p == s.label for s, p in zip(items, pred)])
        assert r["tasks"][task]["accuracy"]["value"] == pytest.approx(hits)
    assert r["n_stimuli"] == len(suite) == 3 * 10 + 50


def test_report_side_by_side_and_never_replaced_silently(suite, tmp_path):
    seer = _run(KnownScorer(suite, lambda s: s.label), suite)
    reader = _run(KnownScorer(suite, lambda s: getattr(s, "word", None) or s.label), suite)
    md = write_probe_report(tmp_path, {"org/seer": seer, "reader": reader}).read_text()
    assert "| org/seer | 1.000 [1.000, 1.000]" in md and "| reader |" in md
    for png in ("bars_whole.png", "bars_object.png", "bars_background.png",
                "stroop_org_seer.png", "stroop_reader.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert f"({png})" in md
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["kind"] == "colorist.probes" and list(doc["models"]) == ["org/seer", "reader"]
    before = (tmp_path / "report.json").read_bytes()
    write_probe_report(tmp_path, {"org/seer": seer, "reader": reader})  # same: fine
    with pytest.raises(FileExistsError, match="holds other probe results"):
        write_probe_report(tmp_path, {"reader": reader})
    assert (tmp_path / "report.json").read_bytes() == before
    other = {**reader, "config": {**reader["config"], "seed": 9}}
    with pytest.raises(ValueError, match="'b' was probed with another config"):
        write_probe_report(tmp_path / "x", {"a": reader, "b": other})


def test_cli_probes_resumes_adds_models_and_refuses_other_settings(tiny, tmp_path, capsys):
    from colorist.eval.__main__ import main

    out = tmp_path / "out"
    args = ["probes", "--model", str(tiny), "--out", str(out), "--n-per-colour", "1",
            "--tasks", "whole,stroop", "--colors", "red,blue,white", "--image-size", "32",
            "--stroop-repeats", "1", "--resamples", "100", "--device", "cpu", "--seed", "0"]
    assert main(args) == 0
    doc = json.loads((out / "report.json").read_text())
    r = doc["models"][str(tiny)]
    assert r["config"]["tasks"] == ["whole", "stroop"] and "object" not in r["tasks"]
    assert r["config"]["colors"] == ["red", "blue", "white"]
    assert r["stroop"]["ink_incongruent"]["n"] == 6 and r["tasks"]["whole"]["n"] == 3
    before = (out / "report.json").read_bytes()
    capsys.readouterr()
    assert main(args) == 0  # a rerun probes nothing again
    assert "not probed again" in capsys.readouterr().err
    assert (out / "report.json").read_bytes() == before
    second = tmp_path / "second"  # a second model joins the first one
    import shutil

    shutil.copytree(tiny, second)
    assert main([*args, "--model", str(second)]) == 0
    assert list(json.loads((out / "report.json").read_text())["models"]) == [str(tiny),
                                                                              str(second)]
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0  # probed again, the second model kept
    assert "not probed again" not in capsys.readouterr().err
    assert list(json.loads((out / "report.json").read_text())["models"]) == [str(tiny),
                                                                              str(second)]
    assert main([*args[:-1], "3"]) == 2  # another seed
    assert "other settings" in capsys.readouterr().err
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "report.json").write_text('{"accuracy": 0.5}')
    assert main([*args[:4], str(tmp_path / "foreign"), *args[5:]]) == 2
    assert "not a probe report" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--tasks", "whole,smell"])
    assert "unknown task 'smell'" in capsys.readouterr().err


def bad_models(root, good):
    """Model folders load_scorer refuses, by what is wrong with them (``good``: a tiny CLIP
    folder to copy): a missing folder, a folder without config.json, an unknown model type,
    a checkpoint with a weight missing."""
    import shutil

    from safetensors.torch import load_file, save_file

    bad = {"missing": root / "missing", "no-config": root / "no-config",
           "unknown-type": root / "llama", "refused": root / "partial"}
    bad["no-config"].mkdir(parents=True)
    bad["unknown-type"].mkdir()
    (bad["unknown-type"] / "config.json").write_text('{"model_type": "llama"}')
    shutil.copytree(good, bad["refused"])
    weights = bad["refused"] / "model.safetensors"
    save_file({k: v for k, v in load_file(weights).items() if "text_projection" not in k},
              weights, metadata={"format": "pt"})
    return {k: str(v) for k, v in bad.items()}


BAD_MESSAGES = {"missing": "no such local folder", "no-config": "no config.json",
                "unknown-type": "no scorer for model_type 'llama'",
                "refused": "not a CLIPModel checkpoint, 1 weights missing"}


def read_rejects(out):
    return [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]


def test_cli_probes_skips_models_that_cannot_be_loaded(tiny, tmp_path, capsys):
    from colorist.eval.__main__ import main

    bad = bad_models(tmp_path / "bad", tiny)
    out = tmp_path / "out"
    small = ["--n-per-colour", "1", "--tasks", "whole", "--colors", "red,blue",
             "--image-size", "32", "--resamples", "100", "--device", "cpu"]
    capsys.readouterr()
    assert main(["probes", "--model", bad["missing"], "--model", str(tiny), "--out", str(out),
                 *small]) == 0
    err = capsys.readouterr().err
    assert f"model {bad['missing']!r} skipped (model-unloadable)" in err
    assert "1 of 2 models skipped" in err
    assert list(json.loads((out / "report.json").read_text())["models"]) == [str(tiny)]
    assert bad["missing"] not in (out / "report.md").read_text()
    [r] = read_rejects(out)
    assert r["model"] == bad["missing"] and r["reason"] == "model-unloadable"
    assert BAD_MESSAGES["missing"] in r["error"]

    # only models that cannot be loaded: exit status 1, every one in rejects.jsonl, no report
    none = tmp_path / "none"
    assert main(["probes", *(a for m in bad.values() for a in ("--model", m)),
                 "--out", str(none), *small]) == 1
    err = capsys.readouterr().err
    assert "no model could be evaluated (4 given, all skipped)" in err
    assert all(f"model {m!r} skipped" in err for m in bad.values())
    assert not (none / "report.json").exists()
    rejects = read_rejects(none)
    assert [(r["model"], r["reason"]) for r in rejects] == [(m, "model-unloadable")
                                                             for m in bad.values()]
    for r, kind in zip(rejects, bad):
        assert BAD_MESSAGES[kind] in r["error"], (kind, r["error"])

    # a rerun without the bad model: the report is kept, rejects.jsonl lists nothing now
    before = (out / "report.json").read_bytes()
    assert main(["probes", "--model", str(tiny), "--out", str(out), *small]) == 0
    assert (out / "report.json").read_bytes() == before
    assert (out / "rejects.jsonl").read_text() == ""


def test_probe_bars_are_the_eval_grouped_bars(suite, tmp_path, monkeypatch):
    import colorist.probes.report as pr

    calls = {}
    monkeypatch.setattr(pr, "plot_grouped_bars",
                        lambda path, bars, labels, title: calls.update({path.name: (bars,
                                                                                    labels)}))
    seer = _run(KnownScorer(suite, lambda s: s.label), suite)
    blind = _run(KnownScorer(suite, lambda s: "blue" if s.label in ("black", "white")
                             else s.label), suite)
    del blind["tasks"]["object"]["per_color"]["red"]  # a colour without result: no bar
    write_probe_report(tmp_path, {"seer": seer, "blind": blind})
    assert sorted(calls) == ["bars_background.png", "bars_object.png", "bars_whole.png"]
    bars, labels = calls["bars_object.png"]
    assert labels == list(COLORS) and list(bars) == ["seer", "blind"]
    value, lo, hi = bars["seer"]
    assert value.tolist() == lo.tolist() == hi.tolist() == [1.0] * 5
    value, lo, hi = bars["blind"]
    assert value[:2].tolist() == [0.0, 0.0] and np.isnan(value[2])
    assert value[3:].tolist() == [1.0, 1.0]
    assert np.isnan(lo[2]) and np.isnan(hi[2])


def test_bench_prints_and_writes_only_with_save(tmp_path, monkeypatch, capsys):
    import bench.probes as bp

    args = ["--size", "tiny", "--n-per-colour", "1", "--tasks", "whole,object",
            "--image-size", "32", "--resamples", "100", "--out", str(tmp_path / "res")]
    assert bp.main(args) == 0
    out = capsys.readouterr().out
    assert "| **run_probes total** |" in out and "24 stimuli" in out
    assert not (tmp_path / "res").exists()
    assert bp.main([*args, "--save"]) == 0
    assert "s per 1,000 stimuli" in (tmp_path / "res" / "probes-cpu.md").read_text()


def test_bench_options_have_help_and_defaults():
    import bench.probes as bp
    from tests.test_cli_help import _problems

    assert _problems(bp.parser(), "bench.probes") == []
    assert bp.parser().parse_args([]).tasks == ("whole", "object", "background", "stroop")
