"""The GPU backends ``triton`` and ``cuda``: the kernels of kernels/ over a packed batch.

Both take the batch layout of ``colorist.recolor.gpu_batch`` and return ``(K, H, W, 3)``
torch views of one output buffer on the device. ``triton`` runs on CUDA tensors, or on the
CPU under ``TRITON_INTERPRET=1`` (slow: for tests; ``auto`` never picks it there). ``cuda``
compiles kernels/recolor.cu with NVRTC through CuPy at first use (CuPy caches the binary
on disk, keyed on the source text, which carries a hash of the headers it includes) and
launches on torch's current stream.

A grid's y dimension (one image a row) is at most 65,535: bigger batches are launched in
chunks of images, each with its slice of ``meta`` and ``params`` (``image_chunks``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import cache
from pathlib import Path

import numpy as np

from colorist._native import BackendUnavailableError
from colorist.recolor.gpu_batch import PackedBatch, pack
from colorist.recolor.plan import MODE_LAB

THREADS_PER_BLOCK = 256  # cuda backend: kThreads in kernels/recolor.cu
PIXELS_PER_THREAD = 8  # cuda backend: kPixelsPerThread in kernels/recolor.cu
MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y: images a launch
_INTERPRETER_BLOCK = 1024


def triton_interpreted() -> bool:
    """True when Triton kernels run in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@cache
def _torch_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def triton_unavailable() -> str | None:
    for module in ("torch", "triton"):
        if importlib.util.find_spec(module) is None:
            return (f"backend 'triton' needs {module}: pip install 'colorist[gpu]' "
                    "(torch with CUDA, triton)")
    if not (_torch_cuda() or triton_interpreted()):
        return ("backend 'triton' needs an NVIDIA GPU visible to torch "
                "(torch.cuda.is_available() is False); set TRITON_INTERPRET=1 to run the "
                "kernels (slowly) on the CPU, or use backend='cpu'")
    return None


def cuda_unavailable() -> str | None:
    for module in ("torch", "cupy"):
        if importlib.util.find_spec(module) is None:
            return (f"backend 'cuda' needs {module}: pip install 'colorist[gpu]' "
                    "(torch with CUDA, cupy-cuda13x; 'colorist[gpu-cuda12]' on a CUDA 12 "
                    "driver)")
    if not _torch_cuda():
        return ("backend 'cuda' needs an NVIDIA GPU visible to torch "
                "(torch.cuda.is_available() is False); use backend='cpu'")
    return None


def triton_device() -> str:
    return "cuda" if _torch_cuda() else "cpu"


def kernel_dir() -> Path:
    """The folder with the GPU kernel sources (kernels/ in the source tree)."""
    import colorist.kernels

    return Path(colorist.kernels.__file__).parent


def include_dir() -> Path:
    """The folder holding ``colorist/pixel_math.h``: csrc/include in a source tree, or the
    copy that setup.py installs next to the kernels."""
    for candidate in (kernel_dir() / "include", kernel_dir().parent / "csrc" / "include"):
        if (candidate / "colorist" / "pixel_math.h").is_file():
            return candidate
    raise BackendUnavailableError(
        f"colorist/pixel_math.h not found next to {kernel_dir()}; reinstall colorist"
    )


def _params_on(params: np.ndarray, device):
    import torch

    return torch.from_numpy(np.ascontiguousarray(params, dtype=np.float32)).to(device)


def _has_lab(params: np.ndarray) -> bool:
    return bool((params[..., 0] == MODE_LAB).any())


def _packed(batch, alphas, device) -> PackedBatch:
    return batch if isinstance(batch, PackedBatch) else pack(batch, alphas, device)


def image_chunks(n: int, limit: int | None = None) -> list[tuple[int, int]]:
    """``(first image, images)`` of each launch for a batch of ``n`` images: consecutive,
    at most ``limit`` (default ``MAX_GRID_Y``) each, together every image once."""
    limit = MAX_GRID_Y if limit is None else limit
    return [(first, min(limit, n - first)) for first in range(0, n, limit)]


# ---- triton ----------------------------------------------------------------------------


def pack_triton(images, alphas) -> PackedBatch:
    return pack(images, alphas, triton_device())


def launch_triton(batch: PackedBatch, out, params_dev, meta_dev, k: int, has_lab: bool):
    """The Triton kernel into a preallocated ``out`` (what bench/ times): one launch per
    chunk of images (``image_chunks``)."""
    import torch
    import triton

    from colorist.kernels import recolor_triton as kt

    most = batch.max_count
    if most >= 2**31:
        raise ValueError(f"an image of {most} pixels: the Triton kernel takes fewer than 2^31")
    size_class = kt.size_class(most)
    # int32 words: 4 pixels are 3 words of RGB and one of alpha (gpu_batch aligns each
    # image to 16 pixels, so the views exist and words never straddle two images)
    words = [t.view(torch.int32) for t in (batch.rgb, batch.alpha, out)]
    for first, n in image_chunks(len(batch)):
        args = (*words, params_dev[first : first + n], meta_dev[first : first + n], k)
        if triton_interpreted():
            grid = (triton.cdiv(most, _INTERPRETER_BLOCK), n)
            kt.recolor_kernel[grid](*args, SIZE_CLASS=size_class, BLOCK=_INTERPRETER_BLOCK,
                                    HAS_LAB=has_lab)
        else:
            grid = lambda meta, n=n: (triton.cdiv(most, meta["BLOCK"]), n)  # noqa: E731
            kt.recolor_kernel_autotuned[grid](*args, SIZE_CLASS=size_class, HAS_LAB=has_lab)


def run_triton(images, alphas, params: np.ndarray, threads: int = 0) -> list:
    """Recolour with the Triton kernel; ``images`` may be a PackedBatch (alphas then None)."""
    return _run(launch_triton, _packed(images, alphas, triton_device()), params)


def _run(launch, batch: PackedBatch, params: np.ndarray) -> list:
    import torch

    k = int(params.shape[1])
    out = torch.empty(batch.output_bytes(k), dtype=torch.uint8, device=batch.device)
    if k and len(batch):
        launch(batch, out, _params_on(params, batch.device), batch.meta(k), k, _has_lab(params))
    return batch.unpack(out, k)


# ---- cuda (CuPy NVRTC) -------------------------------------------------------------------


CUDA_HEADERS = ("colorist/pixel_math.h", "colorist/param_layout.h")


def cuda_source() -> str:
    """kernels/recolor.cu as NVRTC gets it: a first line with the SHA-256 of the headers it
    includes. CuPy's disk cache keys on the source text and options only, so without it a
    header edit would keep running the binary built from the old header."""
    digest = hashlib.sha256()
    for name in CUDA_HEADERS:
        digest.update((include_dir() / name).read_bytes())
    source = (kernel_dir() / "recolor.cu").read_text()
    return f"// headers sha256 {digest.hexdigest()}\n{source}"


@cache
def cuda_module():
    """kernels/recolor.cu compiled by NVRTC (once per process; CuPy caches it on disk)."""
    import cupy

    return cupy.RawModule(
        code=cuda_source(), backend="nvrtc",
        options=("-std=c++17", f"-I{include_dir()}"),
    )


def pack_cuda(images, alphas) -> PackedBatch:
    return pack(images, alphas, "cuda")


def _launch(name: str, grid: tuple[int, int], args: tuple) -> None:
    """Launch entry ``name`` of the CUDA module on torch's current stream; ``args`` are
    torch tensors (passed as CuPy views, no copy) and Python ints (passed as int32)."""
    import cupy
    import torch

    args = tuple(np.int32(a) if isinstance(a, int) else _cp(a) for a in args)
    stream = cupy.cuda.ExternalStream(torch.cuda.current_stream().cuda_stream)
    kernel = cuda_module().get_function(name)
    with stream:
        kernel(grid, (THREADS_PER_BLOCK,), args)


def _cp(tensor):
    import cupy

    return cupy.asarray(tensor)  # __cuda_array_interface__: a view, no copy


def cuda_blocks_x(max_count: int) -> int:
    """gridDim.x: blocks covering the largest image of the batch."""
    per_block = THREADS_PER_BLOCK * PIXELS_PER_THREAD
    return max(1, -(-max_count // per_block))


def launch_cuda(batch: PackedBatch, out, params_dev, meta_dev, k: int, has_lab: bool):
    """The CUDA C++ kernel into a preallocated ``out`` (what bench/ times): one launch per
    chunk of images (``image_chunks``), of the entry without CIELAB code unless ``has_lab``.
    ``params_dev``: ``(N, K, NUM_PARAMS)`` float32, contiguous and 16-byte aligned (the
    kernel reads rows with float4 loads)."""
    if not params_dev.is_contiguous() or params_dev.data_ptr() % 16:
        raise ValueError("params must be a contiguous, 16-byte aligned float32 tensor")
    name = "recolor_kernel_lab" if has_lab else "recolor_kernel_hsv"
    blocks = cuda_blocks_x(batch.max_count)
    for first, n in image_chunks(len(batch)):
        args = (batch.rgb, batch.alpha, out, params_dev[first : first + n],
                meta_dev[first : first + n], int(k))
        _launch(name, (blocks, n), args)


def run_cuda(images, alphas, params: np.ndarray, threads: int = 0) -> list:
    """Recolour with the CUDA C++ kernel; ``images`` may be a PackedBatch (alphas then None)."""
    return _run(launch_cuda, _packed(images, alphas, "cuda"), params)
