"""The ECCV16 colourisation network (Zhang, Isola, Efros 2016, fig. 2) and its builders.

Eight conv blocks (64, 128, 256, 512, 512, 512, 512, 256 channels at width 1): blocks 1-3 end
with a stride-2 conv (x8 down-sampling), blocks 5-6 use dilation 2, blocks 1-7 end with
batch norm, block 8 starts with a 4x4 stride-2 deconvolution and ends with a 1x1 conv to
the Q bins. In: ``L`` ``(B, 1, H, W)`` in [0, 100] (normalised inside as ``(L - 50) / 100``),
H and W multiples of 8. Out: ``(B, Q, H / 4, W / 4)`` logits. The bin centres ride along as
the ``bins`` buffer ``(Q, 2)`` (ab units), so a saved model decodes on its own.

``MODELS`` holds the builders: ``eccv16`` (the paper's widths) and width-reduced variants
for CPU runs (every width divided by 4 or 8; same depth, strides and dilations).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

WIDTHS = (64, 128, 256, 512, 512, 512, 512, 256)
CONVS = (2, 2, 3, 3, 3, 3, 3)  # 3x3 convs of blocks 1-7
STRIDE2 = (0, 1, 2)  # blocks whose last conv has stride 2
DILATED = (4, 5)  # blocks 5-6 (0-based 4, 5): dilation 2
L_CENTER, L_SCALE, AB_SCALE = 50.0, 100.0, 110.0


class ConvBlock(nn.Module):
    """``n`` 3x3 convs + ReLU (the last one strided or not), then batch norm."""

    def __init__(self, c_in: int, c_out: int, n: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in if j == 0 else c_out, c_out, 3, stride if j == n - 1 else 1,
                      padding=dilation, dilation=dilation) for j in range(n))
        self.norm = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.norm(x)


class Head(nn.Module):
    """Block 8: 4x4 stride-2 deconvolution, two 3x3 convs (ReLU each), 1x1 conv to Q logits."""

    def __init__(self, c_in: int, c: int, q: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(c_in, c, 4, 2, 1)
        self.convs = nn.ModuleList(nn.Conv2d(c, c, 3, 1, 1) for _ in range(2))
        self.classify = nn.Conv2d(c, q, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.up(x))
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.classify(x)


class ECCV16(nn.Module):
    """The network of the module docstring; ``width`` scales every channel count."""

    def __init__(self, bins: np.ndarray | torch.Tensor, width: float = 1.0):
        super().__init__()
        chans = [max(1, round(c * width)) for c in WIDTHS]
        self.width = float(width)
        self.register_buffer("bins", torch.tensor(np.asarray(bins),
                                                          dtype=torch.float32))
        c_in, blocks = 1, []
        for i, n in enumerate(CONVS):
            blocks.append(ConvBlock(c_in, chans[i], n, 2 if i in STRIDE2 else 1,
                                    2 if i in DILATED else 1))
            c_in = chans[i]
        self.blocks = nn.ModuleList(blocks)
        self.head = Head(c_in, chans[7], len(self.bins))

    @property
    def num_bins(self) -> int:
        return len(self.bins)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        x = (L - L_CENTER) / L_SCALE
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def build_eccv16(bins, width: float = 1.0) -> ECCV16:
    """An ECCV16 network over ``bins`` (``(Q, 2)`` ab centres), channels scaled by ``width``."""
    if not 0 < width <= 1:
        raise ValueError(f"width must be in (0, 1], got {width}")
    return ECCV16(bins, width)


MODELS: dict[str, Callable[..., ECCV16]] = {
    "eccv16": partial(build_eccv16, width=1.0),
    "eccv16-w4": partial(build_eccv16, width=0.25),
    "eccv16-w8": partial(build_eccv16, width=0.125),
}


def build_model(name: str, bins) -> ECCV16:
    """``MODELS[name](bins)`` with an error that lists the known names."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: one of {', '.join(MODELS)}")
    return MODELS[name](bins)
