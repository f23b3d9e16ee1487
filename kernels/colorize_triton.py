"""Triton kernel for colourisation training data: RGB -> Lab -> (L input, soft ab targets).

One program takes BLOCK (16) cells of the target grid of one image (a cell is ``STRIDE x STRIDE``
input pixels; the network predicts one ab distribution per cell). For each cell it reads its
pixels once, writes their L (the network's full-resolution input) and soft-encodes the ab of
the cell's first pixel (the sample the released training net takes: a 1x1 stride-4
convolution) over its K nearest bins with Gaussian weights (Zhang et al. 2016, eq. 2):
``w_k = exp(-(d_k^2 - d_1^2) / (2 sigma^2)) / sum``. Nothing but L, the K indices and the K
weights reaches memory: no float image, Lab image or dense 313-way target.

The Lab math is the recolouring kernel's (``_rgb_to_lab`` of kernels/recolor_triton.py, the
Triton mirror of csrc/include/colorist/pixel_math.h: D65 white, sRGB curve). The numpy
reference is colorist/colorize/encode.py ``soft_encode_reference``.

Runs on CUDA tensors, and on CPU tensors under ``TRITON_INTERPRET=1`` (tests).
"""

from __future__ import annotations

import triton
import triton.language as tl
from colorist.kernels.recolor_triton import _rgb_to_lab

FAR = 1.0e4  # ab coordinate of the padding bins: never among the K nearest


@triton.jit
def _soft_encode_kernel(rgb_ptr, l_ptr, idx_ptr, w_ptr, bins_a_ptr, bins_b_ptr,
                        H, W, h, w, inv_two_sigma2,
                        STRIDE: tl.constexpr, K: tl.constexpr, KP: tl.constexpr,
                        QP: tl.constexpr, BLOCK: tl.constexpr):
    img = tl.program_id(1).to(tl.int64)
    cells = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = cells < h * w
    cy = cells // w
    cx = cells - cy * w
    rgb_base = rgb_ptr + img * H * W * 3
    l_base = l_ptr + img * H * W
    a0 = tl.zeros((BLOCK,), tl.float32)
    b0 = tl.zeros((BLOCK,), tl.float32)
    for dy in tl.static_range(STRIDE):
        for dx in tl.static_range(STRIDE):
            y = cy * STRIDE + dy
            x = cx * STRIDE + dx
            m = valid & (y < H) & (x < W)
            p = (y * W + x).to(tl.int64)
            r = tl.load(rgb_base + 3 * p, mask=m, other=0).to(tl.float32) * (1.0 / 255.0)
            g = tl.load(rgb_base + 3 * p + 1, mask=m, other=0).to(tl.float32) * (1.0 / 255.0)
            b = tl.load(rgb_base + 3 * p + 2, mask=m, other=0).to(tl.float32) * (1.0 / 255.0)
            L, A, B = _rgb_to_lab(r, g, b)
            tl.store(l_base + p, L, mask=m)
            if dy == 0 and dx == 0:  # constexpr: resolved when the loops are unrolled
                a0 = A
                b0 = B
    q = tl.arange(0, QP)
    da = a0[:, None] - tl.load(bins_a_ptr + q)[None, :]
    db = b0[:, None] - tl.load(bins_b_ptr + q)[None, :]
    d2 = da * da + db * db  # (BLOCK, QP)
    kcol = tl.arange(0, KP)[None, :]
    idx = tl.zeros((BLOCK, KP), tl.int32)
    wts = tl.zeros((BLOCK, KP), tl.float32)
    nearest = tl.min(d2, axis=1)
    for k in tl.static_range(K):
        i = tl.argmin(d2, axis=1, tie_break_left=True)
        dk = tl.min(d2, axis=1)
        idx = tl.where(kcol == k, i[:, None], idx)
        wts = tl.where(kcol == k, tl.exp((nearest - dk) * inv_two_sigma2)[:, None], wts)
        d2 = tl.where(q[None, :] == i[:, None], float("inf"), d2)
    wts = wts / tl.sum(wts, axis=1)[:, None]
    # (B, K, h, w) layout: offset of (img, k, cell) = (img * K + k) * h * w + cell
    out = (img * K + kcol) * h * w + cells[:, None]
    om = valid[:, None] & (kcol < K)
    tl.store(idx_ptr + out, idx.to(tl.int64), mask=om)
    tl.store(w_ptr + out, wts, mask=om)


def soft_encode_triton(rgb, bins, k: int = 5, sigma: float = 5.0, stride: int = 4,
                       block: int = 16, num_warps: int = 8):
    """Fused RGB -> (L, soft ab targets) on a batch of equal-size images.

    Args:
        rgb: ``(B, H, W, 3)`` uint8 torch tensor (CUDA, or CPU under TRITON_INTERPRET=1).
        bins: ``(Q, 2)`` ab bin centres (float, any device).
        k: neighbours per target (1 <= k <= Q); sigma: Gaussian width in ab units (> 0).
        stride: input pixels per target cell along each axis.
        block, num_warps: cells a program and its warps. The ``(block, 512)`` distance
            tile is held in registers: compiled offline for sm_90 (``python
            bench/colorize.py --registers``), 16 cells on 8 warps take 128 registers a
            thread and spill nothing (32 on 4: 254). Not timed on a GPU yet.

    Returns:
        ``L`` ``(B, 1, H, W)`` float32 in [0, 100]; ``idx`` ``(B, k, h, w)`` int64 bin
        indices by increasing distance; ``weight`` ``(B, k, h, w)`` float32 summing to 1 over
        k; ``h = ceil(H / stride)``, ``w = ceil(W / stride)``.
    """
    import torch

    bsz, H, W, _ = rgb.shape
    q = bins.shape[0]
    h, w = -(-H // stride), -(-W // stride)
    dev = rgb.device
    qp = triton.next_power_of_2(q)
    padded = torch.full((2, qp), FAR, dtype=torch.float32, device=dev)
    padded[:, :q] = torch.as_tensor(bins, dtype=torch.float32, device=dev).T
    L = torch.empty((bsz, 1, H, W), dtype=torch.float32, device=dev)
    idx = torch.empty((bsz, k, h, w), dtype=torch.int64, device=dev)
    wts = torch.empty((bsz, k, h, w), dtype=torch.float32, device=dev)
    if bsz == 0 or h * w == 0:
        return L, idx, wts
    grid = (triton.cdiv(h * w, block), bsz)
    _soft_encode_kernel[grid](rgb.contiguous(), L, idx, wts, padded[0].contiguous(),
                              padded[1].contiguous(), H, W, h, w, 1.0 / (2.0 * sigma * sigma),
                              STRIDE=stride, K=k, KP=triton.next_power_of_2(k), QP=qp,
                              BLOCK=block, num_warps=num_warps)
    return L, idx, wts
