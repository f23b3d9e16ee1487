"""The flat batch layout the GPU kernels (kernels/) take: mixed sizes, one launch.

Images of any sizes sit back to back in one uint8 pixel buffer, each starting at a multiple
of ``ALIGN_PX`` pixels (48 bytes of RGB, 16 of alpha), so the CUDA kernel reads 8 pixels with
four 8-byte loads, the Triton kernel 4 pixels as four int32 words, and no image boundary
falls inside a load. A per-image ``meta`` row
``[first pixel, pixel count, first output byte, bytes between variants]`` (int64) tells a
program where its image is. The output holds, per image, K variants of its padded pixel
count back to back, so a uniform batch whose H * W is a multiple of 16 comes out as one
contiguous ``(N, K, H, W, 3)`` tensor, and any batch unpacks into ``(K, H, W, 3)`` views.

A contiguous ``(N, H, W, 3)`` tensor already on the device with ``H * W % 16 == 0`` is used
in place (no copy); anything else is copied once, through pinned memory from the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ALIGN_PX = 16


def _round_up(n: int, m: int = ALIGN_PX) -> int:
    return (n + m - 1) // m * m


@dataclass
class PackedBatch:
    """A batch in the kernels' layout.

    Attributes:
        rgb: ``(P * 3,)`` uint8 on the device (P: total padded pixels).
        alpha: ``(P,)`` uint8 on the device (the pre-pass's alpha; 0 outside objects).
        starts: ``(N,)`` int64 first pixel of each image in ``rgb``.
        counts: ``(N,)`` int64 pixel count ``H * W`` of each image.
        shapes: ``(H, W)`` of each image.
    """

    rgb: Any
    alpha: Any
    starts: np.ndarray
    counts: np.ndarray
    shapes: list[tuple[int, int]]

    @property
    def device(self):
        return self.rgb.device

    def __len__(self) -> int:
        return len(self.shapes)

    @property
    def max_count(self) -> int:
        return int(self.counts.max()) if len(self.counts) else 0

    def padded_counts(self) -> np.ndarray:
        return (self.counts + ALIGN_PX - 1) // ALIGN_PX * ALIGN_PX

    def meta(self, k: int):
        """``(N, 4)`` int64 on the device: first pixel, count, first output byte, stride."""
        import torch

        padded = self.padded_counts()
        out_start = np.concatenate([[0], np.cumsum(k * padded * 3)[:-1]]).astype(np.int64)
        table = np.stack([self.starts, self.counts, out_start, padded * 3], axis=1)
        return torch.from_numpy(np.ascontiguousarray(table, dtype=np.int64)).to(self.device)

    def output_bytes(self, k: int) -> int:
        return int(k * self.padded_counts().sum() * 3)

    def unpack(self, out, k: int) -> list:
        """``(K, H, W, 3)`` uint8 views of the kernel output, one per image."""
        views, offset = [], 0
        for (h, w), padded in zip(self.shapes, self.padded_counts()):
            stride = int(padded) * 3
            views.append(out.as_strided((k, h, w, 3), (stride, w * 3, 3, 1), offset))
            offset += k * stride
        return views


def resolve_device(device) -> Any:
    """``device`` with its index made explicit: ``torch.device("cuda") == tensor.device``
    is False for every CUDA tensor (those say ``cuda:0``), which made every comparison in
    ``pack`` miss and every batch round-trip the host."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _as_tensor(x: Any, device):
    import torch

    if isinstance(x, torch.Tensor):
        return x.to(device)
    if type(x).__module__.startswith("cupy"):
        return torch.as_tensor(x, device=device)  # __cuda_array_interface__, no copy
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


def _consecutive(tensors: Sequence, device) -> bool:
    """True when the tensors are back-to-back slices of one contiguous buffer on ``device``
    (a 4-D batch split into images), 16-byte aligned and each a multiple of 16 pixels."""
    import torch

    if not all(isinstance(t, torch.Tensor) and t.device == device and t.is_contiguous()
               and t.dtype == torch.uint8 for t in tensors):
        return False
    ptr = tensors[0].data_ptr()
    if ptr % 16:
        return False
    for t in tensors:
        if t.data_ptr() != ptr or (t.shape[0] * t.shape[1]) % ALIGN_PX:
            return False
        ptr += t.numel()
    return True


def _flat_view(first, total: int):
    return first.as_strided((total,), (1,), first.storage_offset())


def pack(images: Sequence, masks: Sequence, device) -> PackedBatch:
    """Pack ``(H_i, W_i, 3)`` uint8 images and ``(H_i, W_i)`` uint8 alphas for the kernels.

    Inputs may be numpy arrays, torch tensors (any device) or CuPy arrays; they must already
    be validated (colorist.recolor.api).
    """
    import torch

    device = resolve_device(device)
    shapes = [(int(im.shape[0]), int(im.shape[1])) for im in images]
    counts = np.array([h * w for h, w in shapes], dtype=np.int64)
    if len(images) and _consecutive(images, device) and _consecutive(masks, device):
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        total = int(counts.sum())
        return PackedBatch(_flat_view(images[0], 3 * total), _flat_view(masks[0], total),
                           starts, counts, shapes)
    padded = (counts + ALIGN_PX - 1) // ALIGN_PX * ALIGN_PX
    starts = np.concatenate([[0], np.cumsum(padded)[:-1]]).astype(np.int64)
    total = int(padded.sum())
    pinned = device.type == "cuda"
    rgb = torch.zeros(3 * total, dtype=torch.uint8, pin_memory=pinned)
    mask = torch.zeros(total, dtype=torch.uint8, pin_memory=pinned)
    on_device = []
    for im, m, s, n in zip(images, masks, starts, counts):
        s, n = int(s), int(n)
        if isinstance(im, torch.Tensor) and im.device == device and device.type != "cpu":
            on_device.append((im, m, s, n))  # already there: copy device to device below
            continue
        rgb[3 * s : 3 * (s + n)] = _as_tensor(im, "cpu").reshape(-1)
        mask[s : s + n] = _as_tensor(m, "cpu").reshape(-1)
    rgb, mask = rgb.to(device, non_blocking=True), mask.to(device, non_blocking=True)
    for im, m, s, n in on_device:
        rgb[3 * s : 3 * (s + n)] = im.reshape(-1)
        mask[s : s + n] = _as_tensor(m, device).reshape(-1)
    return PackedBatch(rgb, mask, starts, counts, shapes)
