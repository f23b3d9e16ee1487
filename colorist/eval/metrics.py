"""Metric functions (pure numpy/scipy; tests check them against hand-computed values).

The colour-choice task (the thesis' protocol): an image is scored against the captions of
its group, which differ only in the colour word; the prediction is the colour of the best
scoring caption. ``score_differences`` is, per image, the score of the true caption minus
the best score among the wrong ones (positive exactly when the choice is right); the
report gives its mean and standard deviation (population, ddof=0).
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
