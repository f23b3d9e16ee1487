"""Class rebalancing (Zhang et al. 2016, eq. 3-4) and the rebalanced cross-entropy.

The empirical prior ``p`` over the Q bins is counted from the training targets (the nearest
bin of each target cell), smoothed with a Gaussian over the bin centres (sigma 5 ab units),
and turned into per-class weights ``w ∝ ((1 - lambda) p + lambda / Q)^-1`` scaled so that
``E_p[w] = sum_q p_q w_q = 1`` (lambda = 0.5 in the paper).
"""

from __future__ import annotations

import numpy as np
import torch


def count_nearest(idx: torch.Tensor, q: int) -> torch.Tensor:
    """``(Q,)`` int64 counts of the nearest bin ``idx[:, 0]`` of ``(B, k, h, w)`` targets."""
    return torch.bincount(idx[:, 0].reshape(-1).cpu(), minlength=q)


def smoothed_prior(counts, bins, sigma: float = 5.0) -> np.ndarray:
    """``(Q,)`` float64 prior: ``counts`` normalised, smoothed by a Gaussian over ``bins``."""
    counts = np.asarray(counts, np.float64)
    if counts.sum() <= 0:
        raise ValueError("no target cells counted: the prior needs training data")
    bins = np.asarray(bins, np.float64)
    d2 = ((bins[:, None] - bins[None]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * sigma * sigma))
    p = kernel @ (counts / counts.sum())
    return p / p.sum()


def rebalance_weights(prior, lam: float = 0.5) -> np.ndarray:
    """``(Q,)`` float64 class weights of the module docstring (``E_prior[w] = 1``)."""
    prior = np.asarray(prior, np.float64)
    if not 0 <= lam <= 1:
        raise ValueError(f"lambda must be in [0, 1], got {lam}")
    w = 1.0 / ((1 - lam) * prior + lam / len(prior))
    return w / (prior * w).sum()


def rebalanced_cross_entropy(logits: torch.Tensor, idx: torch.Tensor, weight: torch.Tensor,
                             class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over cells of ``-v(q*) sum_k z_k log softmax(logits)[idx_k]`` (eq. 2).

    Args:
        logits: ``(B, Q, h, w)``; idx, weight: ``(B, k, h, w)`` sparse soft targets (nearest
            first: ``q* = idx[:, 0]``); class_weights: ``(Q,)`` v, or None for 1.
    """
    logp = torch.log_softmax(logits.float(), dim=1)
    ce = -(torch.gather(logp, 1, idx) * weight).sum(1)  # (B, h, w)
    if class_weights is not None:
        ce = ce * class_weights.to(ce.device, ce.dtype)[idx[:, 0]]
    return ce.mean()
