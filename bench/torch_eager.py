"""The unfused way, for comparison: recolouring as kornia / torchvision would write it.

Each step is a separate torch op over whole float tensors (uint8 -> float, max/min, the
hue formula by cases, the hue map, the hue-reliability blend, S/V maps, HSV -> RGB by
sectors, rounding, the alpha blend), so every intermediate image is written to and read
back from memory: ~40 kernel
launches and a few hundred bytes of traffic a pixel per variant, where the fused kernels
move 4 + 3K bytes. HSV rows only (the bench's targets are all chromatic); hue follows
kornia's float formula, so results differ from the OpenCV-exact reference by a level or
two on some pixels (``max_abs_diff_vs_reference`` in the bench output).
"""

from __future__ import annotations

import torch

from colorist.recolor.plan import NUM_PARAMS
from colorist.recolor.plan import PARAM_INDEX as F


def rgb_to_hsv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(..., 3)`` float RGB in [0, 255] -> H in [0, 180), S and V in [0, 255]."""
    r, g, b = rgb.unbind(-1)
    vmax, argmax = rgb.max(-1)
    vmin = rgb.min(-1).values
    diff = vmax - vmin
    safe = torch.where(diff > 0, diff, torch.ones_like(diff))
    h = torch.where(argmax == 0, (g - b) / safe,
                    torch.where(argmax == 1, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = torch.where(diff > 0, (h * 30.0) % 180.0, torch.zeros_like(h))
    s = torch.where(vmax > 0, diff / torch.where(vmax > 0, vmax, torch.ones_like(vmax)),
                    torch.zeros_like(vmax)) * 255.0
    return h, s, vmax


def hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H in [0, 180), S and V in [0, 1] -> ``(..., 3)`` RGB in [0, 1] (kornia's sectors)."""
    h6 = h / 30.0
    sector = torch.floor(h6) % 6
    f = h6 - torch.floor(h6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    idx = sector.long().unsqueeze(-1)
    r = torch.stack([v, q, p, p, t, v], -1).gather(-1, idx)
    g = torch.stack([t, v, v, q, p, p], -1).gather(-1, idx)
    b = torch.stack([p, p, t, v, v, q], -1).gather(-1, idx)
    return torch.cat([r, g, b], -1)


def recolor_torch_eager(images: torch.Tensor, alphas: torch.Tensor,
                        params: torch.Tensor) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8, ``(N, H, W)`` uint8 alpha, ``(N, K, NUM_PARAMS)`` float32
    HSV rows -> ``(N, K, H, W, 3)`` uint8."""
    h, s, v = rgb_to_hsv(images.float())
    a = alphas.unsqueeze(-1).int()
    outs = []
    for k in range(params.shape[1]):
        p = params[:, k].view(-1, NUM_PARAMS, 1, 1).unbind(1)
        u = torch.remainder(h - p[F["src_lo"]], 180.0)
        y = torch.where(u <= p[F["src_w"]], p[F["tgt_lo"]] + u * p[F["ratio_in"]],
                        p[F["tgt_lo"]] + p[F["tgt_w"]] + (u - p[F["src_w"]]) * p[F["ratio_out"]])
        rel = ((s * v / 255.0 - p[F["rel_lo"]]) * p[F["rel_inv"]]).clamp(0, 1)
        d = torch.remainder(p[F["tgt_hc"]] - y + 90.0, 180.0) - 90.0
        y = torch.remainder(y + (1 - rel) * d, 180.0)
        s2 = (s * p[F["s_mul"]] + p[F["s_add"]]).clamp(0, 255)
        s2 = (s2 + (1 - rel) * (p[F["s_tc"]] - s2)) / 255.0
        v2 = (v * p[F["v_mul"]] + p[F["v_add"]]).clamp(0, 255) / 255.0
        rgb = (hsv_to_rgb(y, s2, v2) * 255.0).round().clamp(0, 255).int()
        outs.append(((images.int() * (255 - a) + rgb * a + 127) // 255).to(torch.uint8))
    return torch.stack(outs, 1)
