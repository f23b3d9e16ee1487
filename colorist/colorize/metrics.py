"""Colourisation metrics (Zhang et al. 2016, sec. 3.1): AuC of the per-pixel ab error CDF.

For thresholds t = 0 .. 150 (ab units), the CDF is the (weighted) fraction of pixels whose
predicted ab lies within Euclidean distance t of the true ab; the AuC is the area under it
(trapezoids), divided by 150: 1 for a perfect colouriser, 0 when every error exceeds 150.
Class-rebalanced: each pixel weighs ``1 / count`` of its true ab's nearest bin over the
evaluated pixels, so every colour present counts equally (rare saturated colours as much as
the common desaturated ones).
"""

from __future__ import annotations

import numpy as np

MAX_T = 150.0


def error_cdf(err: np.ndarray, weights: np.ndarray | None = None, max_t: float = MAX_T,
              step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(thresholds, cdf)``: the weighted fraction of ``err <= t`` for t in 0..max_t."""
    err = np.asarray(err, np.float64).ravel()
    w = np.ones_like(err) if weights is None else np.asarray(weights, np.float64).ravel()
    if err.size == 0 or err.shape != w.shape or w.sum() <= 0:
        raise ValueError(f"error CDF of {err.size} errors with {w.size} weights (sum > 0)")
    t = np.arange(0.0, max_t + step / 2, step)
    order = np.argsort(err, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    cdf = cum[np.searchsorted(err[order], t, side="right")] / cum[-1]
    return t, cdf


def auc(err: np.ndarray, weights: np.ndarray | None = None, max_t: float = MAX_T) -> float:
    """Area under ``error_cdf`` over [0, max_t], normalised to [0, 1]."""
    t, cdf = error_cdf(err, weights, max_t)
    return float(np.trapezoid(cdf, t) / max_t)


def class_balance_weights(classes: np.ndarray, q: int) -> np.ndarray:
    """Per-pixel weights ``1 / count(class)`` of ``(N,)`` class indices in [0, q)."""
    classes = np.asarray(classes).ravel()
    counts = np.bincount(classes, minlength=q).astype(np.float64)
    return 1.0 / counts[classes]


def ab_error(pred_ab: np.ndarray, true_ab: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean ab distance of two ``(..., 2)`` arrays."""
    return np.sqrt(((np.asarray(pred_ab, np.float64) - true_ab) ** 2).sum(-1))
