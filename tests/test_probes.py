"""colorist.probes without a model: the stimuli are what they claim (the namer names every
object, background and ink pixel as labelled), the design is crossed and paired, the same
seed gives the same bytes, and the metrics match hand-computed values."""

import json

import numpy as np
import pytest

from colorist.io import mask_from_coco, read_image
from colorist.naming import load_namer
from colorist.probes import (
    PROBE_COLORS,
    ProbeConfig,
    achromatic_summary,
    build_sampler,
    build_suite,
    slot_recalls,
    stroop_heatmaps,
    stroop_outcomes,
    write_stimuli,
)
from colorist.probes.stroop import NEUTRAL_WORDS
from colorist.sources.standard import load_standard

SMALL = dict(n_per_color=2, image_size=64, stroop_repeats=1)


@pytest.fixture(scope="module")
def suite():
    return build_suite(ProbeConfig(**SMALL))


@pytest.fixture(scope="module")
def namer():
    return load_namer()


def _names(namer, pixels):
    return {namer.terms[i] for i in np.unique(namer.name_pixels(pixels))}


def test_sampled_colours_are_confident_namer_colours_not_one_swatch(namer):
    sampler = build_sampler(PROBE_COLORS, margin=0.5, seed=3)
    for color, pool in sampler.pools.items():
        p = namer.probabilities(pool)
        top2 = np.sort(p, axis=1)[:, -2:]
        assert (p.argmax(1) == namer.terms.index(color)).all(), color
        assert (top2[:, 1] - top2[:, 0] >= 0.5 - 1e-6).all(), color
        assert len(np.unique(pool, axis=0)) >= 50, color  # a region, not a swatch
    with pytest.raises(ValueError, match="'mauve'"):
        build_sampler(["red", "mauve"])
    with pytest.raises(ValueError, match="'white'.*margin 0.999"):
        build_sampler(["white"], margin=0.999, n_candidates=1000)


def test_colour_task_stimuli_are_named_as_labelled(suite, namer):
    for task in ("whole", "object", "background"):
        items = suite.stimuli[task]
        assert len(items) == 2 * len(PROBE_COLORS)
        for s in items:
            image, mask = s.render()
            assert image.shape == (64, 64, 3) and image.dtype == np.uint8
            assert _names(namer, image[mask == 0]) == {s.background}, s.id
            if task == "whole":
                assert s.label == s.background and not mask.any()
                continue
            assert 0.03 < mask.mean() < 0.6, s.id
            assert _names(namer, image[mask > 0]) == {s.object}, s.id
            assert s.object != s.background
            assert s.label == (s.object if task == "object" else s.background)


def test_colour_tasks_are_crossed_every_colour_in_every_slot(suite):
    for task in ("object", "background"):
        by_slot = {}
        for s in suite.stimuli[task]:
            by_slot.setdefault(s.slot, []).append(s)
        for items in by_slot.values():
            assert sorted(s.label for s in items) == sorted(PROBE_COLORS)
            assert len({(s.shape, s.center, s.radius, s.angle) for s in items}) == 1
            assert len({s.object_rgb if task == "object" else s.background_rgb
                        for s in items}) == len(PROBE_COLORS)


def test_stroop_items_ink_word_and_twins(suite, namer):
    items = suite.stimuli["stroop"]
    words = [s for s in items if s.condition != "neutral"]
    neutral = {s.pair: s for s in items if s.condition == "neutral"}
    assert len(words) == len(neutral) == 144
    assert {(s.word, s.ink) for s in words} == {(w, k) for w in PROBE_COLORS
                                                for k in PROBE_COLORS}
    for s in words:
        # incongruent exactly where ink and word differ
        assert (s.condition == "incongruent") == (s.word != s.ink)
        assert s.text == s.word.upper() and s.background not in (s.ink, s.word)
        twin = neutral[s.pair]
        assert twin.text in NEUTRAL_WORDS[len(s.text)] and twin.word is None
        for f in ("ink", "ink_rgb", "background", "background_rgb", "font", "scale",
                  "thickness"):
            assert getattr(twin, f) == getattr(s, f), f
        for item in (s, twin):
            image, mask = item.render()
            assert mask.sum() >= 2 * len(item.text), item.id
            assert _names(namer, image[mask > 0]) == {item.ink}, item.id
            assert _names(namer, image[mask == 0]) == {item.background}, item.id
        assert not np.array_equal(s.render()[1], twin.render()[1])
    assert sum(s.condition == "congruent" for s in words) == 12


def test_smallest_image_size_still_renders_every_word():
    small = build_suite(ProbeConfig(tasks=("stroop",), image_size=32, stroop_repeats=1,
                                    fonts=("simplex", "plain", "triplex")))
    for s in small.stimuli["stroop"]:
        assert s.render()[1].sum() >= 2 * len(s.text), s.id


def test_same_seed_same_bytes_other_seed_other_stimuli(tmp_path):
    cfg = ProbeConfig(**SMALL, tasks=("object", "stroop"))
    def rendered(config):
        return [s.render()[0].tobytes() for s in build_suite(config).all()]

    a = rendered(cfg)
    assert a == rendered(ProbeConfig(**SMALL, tasks=("object", "stroop")))
    other = rendered(ProbeConfig(**{**SMALL, "seed": 1}, tasks=("object", "stroop")))
    assert sum(x != y for x, y in zip(a, other)) > 0.9 * len(a)
    # a task's stimuli do not depend on which other tasks run
    alone = build_suite(ProbeConfig(**SMALL, tasks=("stroop",))).stimuli["stroop"]
    assert alone == build_suite(cfg).stimuli["stroop"]
    write_stimuli(tmp_path / "x", cfg)
    write_stimuli(tmp_path / "y", cfg)
    files = sorted(p.relative_to(tmp_path / "x") for p in (tmp_path / "x").rglob("*")
                   if p.is_file())
    assert len(files) == len(a) + 2
    for rel in files:
        assert (tmp_path / "x" / rel).read_bytes() == (tmp_path / "y" / rel).read_bytes(), rel


def test_write_stimuli_is_standard_format_resumes_and_refuses_other_content(tmp_path):
    cfg = ProbeConfig(**{**SMALL, "n_per_color": 1}, colors=("red", "white", "blue"))
    suite = build_suite(cfg)
    path = write_stimuli(tmp_path, suite)
    problems = []
    records, categories = load_standard(path, problems)
    assert problems == [] and len(records) == len(suite)
    assert {"image", "word"} <= set(categories)
    docs = {d["image_id"]: d for d in json.loads(path.read_text())}
    for stim, rec in zip(suite.all(), records):
        image, mask = stim.render()
        assert np.array_equal(read_image(tmp_path / "images" / rec.file_name), image)
        assert docs[rec.image_id]["probe"]["id"] == stim.id
        if stim.task in ("object", "background"):  # the polygon is the painted region
            poly = rec.instances[0].segmentation
            assert np.array_equal(mask_from_coco(poly, image.shape[:2]), mask)
    stamp = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    write_stimuli(tmp_path, suite)  # a rerun leaves every file as it was
    assert stamp == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(FileExistsError, match="probes-config.json exists with other"):
        write_stimuli(tmp_path, ProbeConfig(**{**SMALL, "n_per_color": 1, "seed": 5},
                                            colors=("red", "white", "blue")))
    assert stamp == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kwargs, match", [
    ({"tasks": ("whole", "smell")}, "unknown task 'smell'"),
    ({"colors": ("red", "teal")}, "unknown colour 'teal'"),
    ({"colors": ("red", "red")}, "no repeats"),
    ({"shapes": ("circle", "blob")}, "unknown shape 'blob'"),
    ({"fonts": ("comic",)}, "unknown font 'comic'"),
    ({"n_per_color": 0}, "n_per_color=0"),
    ({"image_size": 16}, "image_size=16"),
    ({"prompts": {"ink": ("the {c} ink is {colour}",)}}, "unknown field 'colour'"),
    ({"prompts": {"whole": ("a plain image",)}}, "needs a {c} or {C}"),
    ({"prompts": {"smell": ("{c}",)}}, "unknown prompt family 'smell'"),
])
def test_config_errors_name_the_bad_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ProbeConfig(**kwargs)


def test_config_round_trips_through_json():
    cfg = ProbeConfig(colors=("red", "gray"), prompts={"ink": ("ink {c}",)})
    again = ProbeConfig(**json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.prompts["ink"] == ("ink {c}",)
    assert again.prompts["word"] == ("the text says {C}",)  # the other families: defaults


# ---- metrics against hand-computed values ----------------------------------------------

# colours: 0 red, 1 blue (chromatic), 2 white, 3 gray (achromatic)
ACHROMATIC = [False, False, True, True]


def test_achromatic_summary_hand_computed():
    truth = [0, 1, 2, 3, 2, 3]
    pred = [0, 0, 3, 1, 2, 0]  # chromatic: 1 of 2 right; achromatic: 1 of 4 right
    s = achromatic_summary(pred, truth, ACHROMATIC)
    assert s["chromatic_recall"] == 0.5 and s["achromatic_recall"] == 0.25
    assert s["bias_index"] == 0.25
    # achromatic stimuli given an achromatic term: pred 3 (white->gray) and 2 -> 2 of 4
    assert s["achromatic_label_rate"] == 0.5 and s["false_achromatic_rate"] == 0.0
    # achromatic labels given: 2 of 6; achromatic truth: 4 of 6 -> ratio 0.5
    assert s["label_ratio"] == 0.5
    assert s["confusion"] == [[2, 2], [0, 2]]
    none = achromatic_summary([0, 1], [0, 1], ACHROMATIC)
    assert none["achromatic_recall"] is None and none["bias_index"] is None
    assert none["label_ratio"] is None


def test_slot_recalls_average_to_the_bias_index_in_a_crossed_design():
    truth = [0, 1, 2, 3] * 2
    pred = [0, 1, 0, 3,  # slot 0: chromatic 2/2, achromatic 1/2
            0, 0, 0, 0]  # slot 1: chromatic 1/2, achromatic 0/2
    slot = [0] * 4 + [1] * 4
    chrom, ach = slot_recalls(pred, truth, slot, ACHROMATIC)
    assert chrom.tolist() == [1.0, 0.5] and ach.tolist() == [0.5, 0.0]
    s = achromatic_summary(pred, truth, ACHROMATIC)
    assert (chrom - ach).mean() == pytest.approx(s["bias_index"]) == 0.5


def _stroop_fixture():
    # 3 colours; items: (ink, word, pair); word -1 = neutral twin
    ink = [0, 1, 1, 2, 0, 1, 1, 2]
    word = [0, 0, 2, 1, -1, -1, -1, -1]  # congruent, incongruent x3, and four twins
    pair = [0, 1, 2, 3, 0, 1, 2, 3]
    ink_pred = [0, 0, 1, 1, 0, 1, 1, 2]  # item 1 and 3 choose the word; twins all right
    word_pred = [0, 0, 2, 2, 1, 1, 1, 1]  # reads 3 of the 4 words
    return ink_pred, word_pred, ink, word, pair


def test_stroop_outcomes_hand_computed():
    o = stroop_outcomes(*_stroop_fixture())
    assert o["ink_congruent"].tolist() == [True]
    assert o["ink_incongruent"].tolist() == [False, True, False]
    assert o["ink_neutral"].tolist() == [True] * 4
    assert o["word_over_ink"].tolist() == [True, False, True]
    assert o["word_reading"].tolist() == [True, True, True, False]
    # interference: twin ink accuracy 1 vs incongruent 1/3 -> 2/3
    assert o["interference"].tolist() == [[True] * 3, [False, True, False]]
    assert o["interference"][0].mean() - o["interference"][1].mean() == pytest.approx(2 / 3)
    assert o["facilitation"].tolist() == [[True], [True]]


def test_stroop_heatmaps_hand_computed():
    ink_pred, _, ink, word, _ = _stroop_fixture()
    m = stroop_heatmaps(ink_pred, ink, word, 3)
    nan = np.nan
    np.testing.assert_array_equal(m["ink_rate"], [[1, 0, nan], [nan, nan, 0], [nan, 1, nan]])
    np.testing.assert_array_equal(m["word_rate"], [[1, 1, nan], [nan, nan, 1], [nan, 0, nan]])
    np.testing.assert_array_equal(m["neutral_ink_rate"], [1, 1, 1])


def test_color_task_report_from_a_hand_made_score_matrix():
    from colorist.eval.significance import bootstrap_ci, paired_bootstrap_diff
    from colorist.probes import color_task_report

    colors = ("red", "blue", "white", "gray")
    scores = np.array([[0.9, 0.1, 0.0, 0.0],   # red -> red
                       [0.5, 0.5, 0.0, 0.0],   # blue -> red (a tie goes to the first)
                       [0.0, 0.0, 0.2, 0.3],   # white -> gray
                       [0.0, 0.0, 0.1, 0.4],   # gray -> gray
                       [0.3, 0.8, 0.0, 0.0],   # red -> blue
                       [0.0, 0.7, 0.1, 0.0],   # blue -> blue
                       [0.0, 0.0, 0.9, 0.0],   # white -> white
                       [0.6, 0.0, 0.0, 0.1]])  # gray -> red
    truth = np.array([0, 1, 2, 3] * 2)
    slot = np.array([0] * 4 + [1] * 4)
    r = color_task_report(scores, truth, slot, colors, n_resamples=500)
    correct = [1, 0, 0, 1, 0, 1, 1, 0]
    assert r["accuracy"]["value"] == 0.5 and r["accuracy"]["n"] == 8
    assert (r["accuracy"]["lo"], r["accuracy"]["hi"]) == bootstrap_ci(correct, 500)[1:]
    assert {c: v["value"] for c, v in r["per_color"].items()} == {
        "red": 0.5, "blue": 0.5, "white": 0.5, "gray": 0.5}
    assert r["confusion"] == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 1]]
    a = r["achromatic"]
    assert a["achromatic_recall"]["value"] == 0.5 and a["chromatic_recall"]["value"] == 0.5
    assert a["achromatic_label_rate"]["value"] == 0.75  # 3 of 4 achromatic get one
    assert a["false_achromatic_rate"]["value"] == 0.0
    assert a["label_ratio"] == 0.75 and a["confusion"] == [[3, 1], [0, 4]]
    # slot 0: chromatic 1/2, achromatic 1/2; slot 1: 1/2 and 1/2 -> index 0
    d = paired_bootstrap_diff([0.5, 0.5], [0.5, 0.5], 500)
    assert a["bias_index"] == {"value": 0.0, "lo": d["lo"], "hi": d["hi"], "n": 2, "p": 1.0}


def test_stroop_report_from_hand_made_score_matrices():
    from colorist.probes import stroop_report

    ink_pred, word_pred, ink, word, pair = _stroop_fixture()
    eye = np.eye(3)
    r = stroop_report(eye[ink_pred] + 0.1, eye[word_pred] * 2, ink, word, pair,
                      ("red", "green", "blue"), n_resamples=200)
    assert r["ink_incongruent"]["value"] == pytest.approx(1 / 3)
    assert r["ink_incongruent"]["n"] == 3 and r["ink_neutral"]["n"] == 4
    assert r["word_over_ink"]["value"] == pytest.approx(2 / 3)
    assert r["word_reading"]["value"] == 0.75
    assert r["interference"]["value"] == pytest.approx(2 / 3) and r["interference"]["n"] == 3
    assert 0 < r["interference"]["p"] <= 1
    assert r["facilitation"]["n"] == 1 and r["facilitation"]["p"] is None  # one pair: no test
    assert r["heatmaps"]["ink_rate"][0] == [1.0, 0.0, None]  # JSON: no NaN
    json.dumps(r, allow_nan=False)
