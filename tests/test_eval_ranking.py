"""Recall@K / MRR (ties in expectation) and the colour task's report, by hand."""

import types

import numpy as np
import pytest

from colorist.eval.metrics import ranking, recall_at_k, reciprocal_ranks

SCORES = [
    [0.9, 0.5, 0.1],        # true 0: first, alone                  -> rank 1
    [0.2, 0.7, 0.7],        # true 2: tied with one for first      -> rank 1 or 2
    [0.3, 0.3, 0.3, 0.3],   # true 1: all alike                    -> rank 1..4
    [0.1, 0.8, 0.6, 0.6],   # true 0: three above                  -> rank 4
    [0.5, 0.9, 0.5],        # true 0: one above, one tied          -> rank 2 or 3
]
TRUTH = [0, 2, 1, 0, 0]


def test_recall_at_k_by_hand():
    np.testing.assert_allclose(recall_at_k(SCORES, TRUTH, 1), [1, 0.5, 0.25, 0, 0])
    np.testing.assert_allclose(recall_at_k(SCORES, TRUTH, 2), [1, 1, 0.5, 0, 0.5])
    np.testing.assert_allclose(recall_at_k(SCORES, TRUTH, 3), [1, 1, 0.75, 0, 1])
    np.testing.assert_allclose(recall_at_k(SCORES, TRUTH, 4), [1, 1, 1, 1, 1])


def test_reciprocal_ranks_by_hand():
    expected = [1, (1 + 1 / 2) / 2, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4, 1 / 4, (1 / 2 + 1 / 3) / 2]
    np.testing.assert_allclose(reciprocal_ranks(SCORES, TRUTH), expected)
    r = ranking(SCORES, TRUTH, ks=(1, 3))
    assert r == pytest.approx({"recall@1": 1.75 / 5, "recall@3": 3.75 / 5,
                               "mrr": float(np.mean(expected)), "n": 5})


def test_a_model_that_scores_all_alike_gets_chance_not_credit():
    flat = [[0.2] * 8] * 10
    assert ranking(flat, [3] * 10, ks=(1,))["recall@1"] == pytest.approx(1 / 8)
    # the thesis' choice rule gives ties to the first caption: right only when truth is 0
    from colorist.eval.metrics import accuracy, choose

    assert accuracy(choose(flat), [0] * 10) == 1.0


@pytest.mark.parametrize("scores, truth, k, message", [
    ([[0.1, 0.2]], [2], 1, "item 0: true index 2 outside its 2 candidates"),
    ([[0.1, float("nan")]], [0], 1, "item 0: non-finite score"),
    ([[0.1, 0.2]], [0, 1], 1, "1 score rows vs 2 true indices"),
    ([[0.1, 0.2]], [0], 0, "K >= 1"),
])
def test_ranking_errors(scores, truth, k, message):
    with pytest.raises(ValueError, match=message):
        recall_at_k(scores, truth, k)


def _bank():
    """Two groups: g1 red (original) / blue / green, g2 blue / red (original)."""
    g1 = types.SimpleNamespace(id="g1", colors=["red", "blue", "green"], original=0)
    g2 = types.SimpleNamespace(id="g2", colors=["blue", "red"], original=1)
    mats = [np.array([[0.9, 0.2, 0.1],     # image red   -> caption red (right)
                      [0.8, 0.3, 0.1],     # image blue  -> red (wrong; blue 2nd)
                      [0.1, 0.2, 0.6]]),   # image green -> green (right)
            np.array([[0.4, 0.5],          # image blue  -> red (wrong; blue 2nd)
                      [0.3, 0.7]])]        # image red   -> red (right)
    return types.SimpleNamespace(groups=[g1, g2]), mats


def test_task_report_on_originals_by_hand():
    from colorist.eval.color import task_report

    bank, mats = _bank()
    r = task_report(mats, bank, "originals", ks=(1, 2))
    assert r["per_item"]["ids"] == ["g1/red", "g2/red"]
    assert r["per_item"]["correct"] == [1, 1] and r["accuracy"] == 1.0
    assert r["mean_diff"] == pytest.approx(((0.9 - 0.2) + (0.7 - 0.3)) / 2)
    # image direction: caption red of g1 ranks image red (0.9) above blue (0.8) and green
    assert r["ranking"]["image"] == {"recall@1": 1.0, "recall@2": 1.0, "mrr": 1.0, "n": 2}


def test_task_report_on_recolours_and_all_by_hand():
    from colorist.eval.color import task_report

    bank, mats = _bank()
    r = task_report(mats, bank, "recolours", ks=(1, 2))
    assert r["per_item"]["ids"] == ["g1/blue", "g1/green", "g2/blue"]
    assert r["per_item"]["correct"] == [0, 1, 0]
    assert r["per_item"]["text_rr"] == [0.5, 1.0, 0.5]
    assert r["ranking"]["text"] == pytest.approx({"recall@1": 1 / 3, "recall@2": 1.0,
                                                  "mrr": 2 / 3, "n": 3})
    # columns: blue caption of g1 [0.2, 0.3, 0.1] -> image blue first; green [0.1, 0.1, 0.6];
    # blue caption of g2 [0.4, 0.3] -> image blue first
    assert r["per_item"]["image_rr"] == [1.0, 1.0, 1.0]
    assert r["per_color_accuracy"] == {"blue": 0.0, "green": 1.0}
    every = task_report(mats, bank, "all")
    assert every["per_item"]["ids"] == ["g1/red", "g1/blue", "g1/green", "g2/blue", "g2/red"]
    assert every["accuracy"] == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="images must be one of originals, recolours, all"):
        task_report(mats, bank, "some")


def test_training_validation_rows_give_no_image_direction():
    from colorist.eval.color import task_report

    bank, mats = _bank()
    partial = [np.where(np.arange(len(m))[:, None] == g.original, m, np.nan)
               for m, g in zip(mats, bank.groups)]
    r = task_report(partial, bank, "originals")
    assert r["accuracy"] == 1.0 and "image" not in r["ranking"]
    assert "image_rr" not in r["per_item"]


def test_training_time_report_from_embeddings():
    torch = pytest.importorskip("torch")
    from colorist.eval.color import _report_from_embeddings

    bank, _ = _bank()
    bank.rows = [[0, 1, 2], [3, 4]]
    # originals: g1 red (row 0), g2 red (row 4); captions as unit vectors along their colour
    axis = {"red": [1.0, 0.0], "blue": [0.0, 1.0], "green": [-1.0, 0.0]}
    txt = torch.tensor([axis[c] for g in bank.groups for c in g.colors])
    img = torch.tensor([[0.9, 0.1], [0.2, 0.8]])  # g1 original ~red (right), g2 ~blue (wrong)
    r = _report_from_embeddings(img, txt, bank)
    assert r["per_item"]["ids"] == ["g1/red", "g2/red"]
    assert r["per_item"]["correct"] == [1, 0] and r["predictions"] == ["red", "blue"]
    assert r["mean_diff"] == pytest.approx(((0.9 - 0.1) + (0.2 - 0.8)) / 2)
