"""Metric functions (pure numpy/scipy; tests check them against hand-computed values).

The colour-choice task (the thesis' protocol): an image is scored against the captions of
its group, which differ only in the colour word; the prediction is the colour of the best
scoring caption. ``score_differences`` is, per image, the score of the true caption minus
the best score among the wrong ones (positive exactly when the choice is right); the
report gives its mean and standard deviation (population, ddof=0).

Ranking (Recall@K, MRR): the true item is ranked among its colour-swapped distractors,
either the true caption among an image's captions (``text`` direction) or the true image
among the recoloured images for a caption (``image`` direction). Ties are broken uniformly at
random *in expectation*: with ``g`` distractors scoring strictly higher than the true item
and ``t`` scoring exactly the same, the true item's rank is uniform on ``g+1 .. g+t+1``, so
per item Recall@K = P(rank <= K) = clip((K - g) / (t + 1), 0, 1) and the reciprocal rank is
the mean of 1/r over those ranks. A model that scores every candidate alike therefore gets
the chance level (1/C of C candidates for Recall@1), never full credit; the per-item values
are fractions then. (``choose`` and ``accuracy`` keep the thesis' rule: a tie goes to the
first caption.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def choose(scores: Sequence[Sequence[float]]) -> np.ndarray:
    """Index of the best caption per image; ties go to the first."""
    return np.array([int(np.argmax(s)) for s in scores], dtype=int)


def score_differences(scores: Sequence[Sequence[float]], truth: Sequence[int]) -> np.ndarray:
    """Per image: score of the true caption minus the best wrong caption's score."""
    out = []
    for s, t in zip(scores, truth):
        s = np.asarray(s, dtype=float)
        wrong = np.delete(s, t)
        if wrong.size == 0:
            raise ValueError("a colour choice needs at least two captions")
        out.append(s[t] - wrong.max())
    return np.array(out)


def accuracy(predicted: Sequence, truth: Sequence) -> float:
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape or predicted.size == 0:
        raise ValueError(f"accuracy of {predicted.size} predictions vs {truth.size} labels")
    return float((predicted == truth).mean())


def confusion_matrix(true_labels: Sequence[str], predicted: Sequence[str],
                     labels: Sequence[str]) -> np.ndarray:
    """(C, C) counts; row = true colour, column = chosen colour."""
    index = {c: i for i, c in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(true_labels, predicted):
        m[index[t], index[p]] += 1
    return m


def per_class_accuracy(true_labels: Sequence[str], predicted: Sequence[str]) -> dict:
    out: dict[str, list[int]] = {}
    for t, p in zip(true_labels, predicted):
        out.setdefault(t, []).append(int(t == p))
    return {c: float(np.mean(v)) for c, v in sorted(out.items())}


def correlations(scores: Sequence[float], human: Sequence[float]) -> dict:
    """Kendall tau-b and tau-c, Spearman rho, Pearson r of model scores vs human judgments."""
    from scipy import stats

    x, y = np.asarray(scores, float), np.asarray(human, float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"need two paired series of length >= 2, got {x.size} and {y.size}")
    return {
        "kendall_tau_b": float(stats.kendalltau(x, y, variant="b").statistic),
        "kendall_tau_c": float(stats.kendalltau(x, y, variant="c").statistic),
        "spearman": float(stats.spearmanr(x, y).statistic),
        "pearson": float(stats.pearsonr(x, y).statistic),
        "n": int(x.size),
    }


def _rank_bounds(scores: Sequence[Sequence[float]], truth: Sequence[int]) -> tuple:
    """Per item: (#candidates strictly above the true one, #others tied with it)."""
    if len(scores) != len(truth):
        raise ValueError(f"{len(scores)} score rows vs {len(truth)} true indices")
    above, tied = [], []
    for i, (s, t) in enumerate(zip(scores, truth)):
        s = np.asarray(s, dtype=float)
        if s.ndim != 1 or not 0 <= t < s.size:
            raise ValueError(f"item {i}: true index {t} outside its {s.size} candidates")
        if not np.isfinite(s).all():
            raise ValueError(f"item {i}: non-finite score")
        above.append(int((s > s[t]).sum()))
        tied.append(int((s == s[t]).sum()) - 1)
    return np.array(above, dtype=int), np.array(tied, dtype=int)


def recall_at_k(scores: Sequence[Sequence[float]], truth: Sequence[int], k: int) -> np.ndarray:
    """(N,) per item P(true candidate ranked in the top ``k``), ties in expectation.

    Args:
        scores: N rows of candidate scores (rows may differ in length), higher = better.
        truth: (N,) index of the true candidate in each row.
        k: cut-off, >= 1.
    """
    if k < 1:
        raise ValueError(f"Recall@K needs K >= 1, got {k}")
    above, tied = _rank_bounds(scores, truth)
    return np.clip((k - above) / (tied + 1), 0.0, 1.0)


def reciprocal_ranks(scores: Sequence[Sequence[float]], truth: Sequence[int]) -> np.ndarray:
    """(N,) per item expected 1 / rank of the true candidate (ties in expectation); the mean
    is the MRR."""
    above, tied = _rank_bounds(scores, truth)
    return np.array([np.mean(1.0 / np.arange(g + 1, g + t + 2)) for g, t in zip(above, tied)])


def ranking(scores: Sequence[Sequence[float]], truth: Sequence[int],
            ks: Sequence[int] = (1, 2, 3)) -> dict:
    """``{"recall@K": mean, ..., "mrr": mean, "n": N}`` of :func:`recall_at_k` and
    :func:`reciprocal_ranks`."""
    if len(truth) == 0:
        raise ValueError("ranking of no items")
    out: dict = {f"recall@{k}": float(recall_at_k(scores, truth, k).mean()) for k in ks}
    out["mrr"] = float(reciprocal_ranks(scores, truth).mean())
    out["n"] = len(truth)
    return out
