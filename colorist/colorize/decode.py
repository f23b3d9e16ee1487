"""From predicted distributions to colour images: annealed mean, upsampling, Lab -> RGB.

``annealed_mean`` (Zhang et al. 2016, eq. 5): ``ab = sum_q softmax(logits / T)_q bins_q``;
T = 1 is the mean of the distribution, T -> 0 its mode (T = 0 takes the mode exactly), the
paper's T = 0.38 lies between (vivid, yet spatially coherent).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from colorist.recolor.reference import lab_to_rgb

DEFAULT_T = 0.38


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, T: float = DEFAULT_T
                  ) -> torch.Tensor:
    """``(B, Q, h, w)`` logits -> ``(B, 2, h, w)`` float32 ab (bins: ``(Q, 2)``)."""
    if T < 0:
        raise ValueError(f"temperature must be >= 0, got {T}")
    bins = bins.to(logits.device, torch.float32)
    if T == 0:
        return bins[logits.argmax(1)].permute(0, 3, 1, 2)
    p = torch.softmax(logits.float() / T, dim=1)
    return torch.einsum("bqhw,qc->bchw", p, bins)


def upsample_ab(ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, 2, h, w)`` ab -> ``(B, 2, H, W)``, bilinear."""
    return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)


def lab_to_rgb_u8(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """``(H, W)`` L and ``(2, H, W)`` ab -> ``(H, W, 3)`` uint8 sRGB (clipped to the gamut)."""
    lab = np.concatenate([np.asarray(L, np.float64)[..., None],
                          np.moveaxis(np.asarray(ab, np.float64), 0, -1)], -1)
    return np.clip(np.rint(lab_to_rgb(lab) * 255), 0, 255).astype(np.uint8)
