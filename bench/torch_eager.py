"""The unfused way, for comparison: recolouring as kornia / torchvision would write it.

Each step is a separate torch op over whole float tensors (uint8 -> float, max/min, the
hue formula by cases, the hue map, S/V affines, HSV -> RGB by sectors, rounding, the mask
select), so every intermediate image is written to and read back from memory: ~30 kernel
launches and a few hundred bytes of traffic a pixel per variant, where the fused kernels
move 4 + 3K bytes. HSV rows only (the bench's targets are all chromatic); hue follows
kornia's float formula, so results differ from the OpenCV-exact reference by a level or
two on some pixels (``max_abs_diff_vs_reference`` in the bench output).
"""

from __future__ import annotations

import torch


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


def recolor_torch_eager(images: torch.Tensor, masks: torch.Tensor,
                        params: torch.Tensor) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8, ``(N, H, W)`` uint8, ``(N, K, 16)`` float32 HSV rows ->
    ``(N, K, H, W, 3)`` uint8."""
    h, s, v = rgb_to_hsv(images.float())
    inside = (masks > 0).unsqueeze(-1)
    outs = []
    for k in range(params.shape[1]):
        p = params[:, k].view(-1, 16, 1, 1).unbind(1)
        u = torch.remainder(h - p[1], 180.0)
        inside_arc = u <= p[2]
        y = torch.where(inside_arc, p[3] + u * p[14], p[3] + p[4] + (u - p[2]) * p[15])
        y = torch.remainder(y, 180.0)
        s2 = (s * p[5] + p[6]).clamp(0, 255) / 255.0
        v2 = (v * p[7] + p[8]).clamp(0, 255) / 255.0
        rgb = (hsv_to_rgb(y, s2, v2) * 255.0).round().clamp(0, 255).to(torch.uint8)
        outs.append(torch.where(inside, rgb, images))
    return torch.stack(outs, 1)
