"""Colourising images: the API behind ``python -m colorist.colorize predict``.

    model = load_model("run/model.safetensors")
    [rgb] = colorize(model, image)               # (H, W, 3) uint8 at T = 0.38

As the released model does: the image is resized to ``size x size``, its L goes through the
network, the ab of the annealed mean (``decode.annealed_mean``) is upsampled bilinearly to
the full size and joined with the image's own full-resolution L.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from colorist.colorize.decode import DEFAULT_T, annealed_mean, lab_to_rgb_u8, upsample_ab
from colorist.colorize.model import ECCV16
from colorist.recolor.reference import rgb_to_lab

SHEET_TILE = 192  # tile height of contact sheets (px)


def _check_rgb(rgb: np.ndarray, what: str = "image") -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or 0 in rgb.shape:
        raise ValueError(f"{what}: expected (H, W, 3) uint8 RGB, got {rgb.dtype} {rgb.shape}")
    return rgb


def _device(model: ECCV16) -> torch.device:
    return model.bins.device


@torch.no_grad()
def predict_ab(model: ECCV16, rgb: np.ndarray, temperatures: Sequence[float] = (DEFAULT_T,),
               size: int = 256) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(L, [ab per T])``: the image's ``(H, W)`` float64 L and ``(2, H, W)`` float32 ab.

    Args:
        rgb: ``(H, W, 3)`` uint8 (colour or grey: only its L is used).
        size: the network's input side (a multiple of 8).
    """
    rgb = _check_rgb(rgb)
    if size % 8:
        raise ValueError(f"size must be a multiple of 8, got {size}")
    L = rgb_to_lab(rgb)[..., 0]
    small = rgb_to_lab(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA))[..., 0]
    x = torch.from_numpy(small.astype(np.float32))[None, None].to(_device(model))
    logits = model.eval()(x)
    outs = [upsample_ab(annealed_mean(logits, model.bins, t), L.shape)[0].cpu().numpy()
            for t in temperatures]
    return L, outs


def colorize(model: ECCV16, rgb: np.ndarray, temperatures: Sequence[float] = (DEFAULT_T,),
             size: int = 256) -> list[np.ndarray]:
    """``(H, W, 3)`` uint8 colourisations of ``rgb``, one per temperature."""
    L, abs_ = predict_ab(model, rgb, temperatures, size)
    return [lab_to_rgb_u8(L, ab) for ab in abs_]


def grey(rgb: np.ndarray) -> np.ndarray:
    """The grey input the network sees: the image's L with ab = 0, as ``(H, W, 3)`` uint8."""
    L = rgb_to_lab(_check_rgb(rgb))[..., 0]
    return lab_to_rgb_u8(L, np.zeros((2, *L.shape)))


def _tile(rgb: np.ndarray, label: str) -> np.ndarray:
    h, w = rgb.shape[:2]
    tile = cv2.resize(rgb, (max(1, round(w * SHEET_TILE / h)), SHEET_TILE),
                      interpolation=cv2.INTER_AREA)
    tile = np.ascontiguousarray(tile)
    cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
    cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    return tile


def contact_sheet(model: ECCV16, images: Sequence[np.ndarray],
                  temperatures: Sequence[float] = (1.0, DEFAULT_T, 0.1, 0.0),
                  size: int = 256) -> np.ndarray:
    """One row per image: grey input | prediction at each T | original; ``(N * 192, W, 3)``."""
    rows = []
    for rgb in images:
        tiles = [_tile(grey(rgb), "grey input")]
        tiles += [_tile(c, f"T={t:g}") for t, c in
                  zip(temperatures, colorize(model, rgb, temperatures, size))]
        rows.append(np.concatenate([*tiles, _tile(rgb, "original")], 1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    return np.concatenate(rows, 0)
