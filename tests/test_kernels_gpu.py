"""GPU kernels (kernels/): batch layout, Triton under its CPU interpreter, the CUDA C++
source through nvcc/NVRTC, and both kernels on a real GPU (tests marked ``cuda``).

Value-level agreement of every backend with the reference is tested in
test_recolor_backends.py (parametrized over all backends, triton and cuda included).
"""

import shutil
import subprocess

import numpy as np
import pytest
import torch

import colorist
from colorist.recolor import plan_batch, recolor_reference
from colorist.recolor.backends import BACKENDS, get_backend
from colorist.recolor.gpu_backends import include_dir, kernel_dir, triton_unavailable
from colorist.recolor.gpu_batch import ALIGN_PX, pack

needs_triton = pytest.mark.skipif(triton_unavailable() is not None,
                                  reason=f"{triton_unavailable()}")


def test_pack_mixed_sizes_pads_each_image_to_16_pixels(rng):
    shapes = [(3, 5), (4, 4), (1, 1)]
    images = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    masks = [rng.integers(0, 2, s, dtype=np.uint8) for s in shapes]
    batch = pack(images, masks, "cpu")
    assert list(batch.starts) == [0, 16, 32] and list(batch.counts) == [15, 16, 1]
    assert batch.rgb.numel() == 48 * 3 and batch.max_count == 16
    for im, m, s, n in zip(images, masks, batch.starts, batch.counts):
        assert np.array_equal(batch.rgb[3 * s : 3 * (s + n)].numpy(), im.reshape(-1))
        assert np.array_equal(batch.alpha[s : s + n].numpy(), m.reshape(-1))
    meta = batch.meta(k=2).numpy()
    assert meta[:, 2].tolist() == [0, 2 * 16 * 3, 4 * 16 * 3]  # K variants of padded images
    assert meta[:, 3].tolist() == [48, 48, 48]
    out = torch.arange(batch.output_bytes(2), dtype=torch.int64).to(torch.uint8)
    views = batch.unpack(out, 2)
    assert [tuple(v.shape) for v in views] == [(2, 3, 5, 3), (2, 4, 4, 3), (2, 1, 1, 3)]
    assert views[1][1, 0, 0, 0].item() == (2 * 48 + 48) % 256


def test_pack_uses_a_uniform_batch_in_place(rng):
    batch4d = torch.from_numpy(rng.integers(0, 256, (3, 4, 8, 3), dtype=np.uint8))
    masks = torch.ones((3, 4, 8), dtype=torch.uint8)
    batch = pack(list(batch4d), list(masks), "cpu")
    assert batch.rgb.data_ptr() == batch4d.data_ptr()  # no copy
    assert batch.alpha.data_ptr() == masks.data_ptr()
    assert (4 * 8) % ALIGN_PX == 0 and list(batch.starts) == [0, 32, 64]


def test_pack_copies_when_not_aligned(rng):
    batch4d = torch.from_numpy(rng.integers(0, 256, (2, 3, 5, 3), dtype=np.uint8))
    batch = pack(list(batch4d), list(torch.ones((2, 3, 5), dtype=torch.uint8)), "cpu")
    assert batch.rgb.data_ptr() != batch4d.data_ptr() and list(batch.starts) == [0, 16]


@needs_triton
def test_recolor_api_on_triton_keeps_torch_in_torch_out(rng):
    img = rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (16, 12)).astype(bool)
    # selective=False: the alpha is the feathered mask on both paths, so the kernels alone
    # are compared (the pre-passes' own agreement is tested in test_prepass_torch.py)
    ref = colorist.recolor(img, mask, "red", ["blue", "white"], backend="reference",
                           selective=False)
    out_np = colorist.recolor(img, mask, "red", ["blue", "white"], backend="triton",
                              selective=False)
    assert isinstance(out_np, np.ndarray) and out_np.shape == (2, 16, 12, 3)
    assert np.abs(out_np.astype(int) - ref).max() <= 1
    batch = torch.from_numpy(np.stack([img, img]))
    out_t = colorist.recolor(batch, torch.from_numpy(np.stack([mask, mask])), "red",
                             ["blue", "white"], backend="triton", selective=False)
    assert isinstance(out_t, torch.Tensor) and out_t.shape == (2, 2, 16, 12, 3)
    assert np.array_equal(out_t[0].numpy(), out_np) and np.array_equal(out_t[1].numpy(), out_np)


def test_auto_takes_the_fastest_native_backend():
    """Never the Triton interpreter; a GPU backend when a GPU is there, else cpu."""
    chosen = get_backend("auto")
    assert not chosen.emulated()
    expect = "cuda" if BACKENDS["cuda"].unavailable() is None else (
        "triton" if BACKENDS["triton"].unavailable() is None and not BACKENDS["triton"].emulated()
        else "cpu")
    assert chosen.name == expect


@pytest.mark.parametrize("name", ["triton", "cuda"])
def test_gpu_backends_say_how_to_get_them(name):
    why = BACKENDS[name].unavailable()
    if why is None:
        pytest.skip(f"{name} is available here: nothing to explain")
    assert f"backend '{name}'" in why and ("pip install" in why or "GPU" in why)


def test_kernel_sources_and_header_are_found():
    assert (kernel_dir() / "recolor.cu").is_file()
    assert (include_dir() / "colorist" / "pixel_math.h").is_file()


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
def test_cuda_source_compiles_with_nvcc(tmp_path):
    cmd = ["nvcc", "-std=c++17", "-arch=sm_80", f"-I{include_dir()}", "-c",
           str(kernel_dir() / "recolor.cu"), "-o", str(tmp_path / "recolor.o"),
           "-Xptxas", "-v", "-Werror", "all-warnings"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "spill stores" in proc.stderr  # ptxas reported on the kernels
    assert "recolor_kernel" in proc.stderr


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
    except Exception:
        return None
    return nvrtc


@pytest.mark.skipif(_nvrtc() is None, reason="CuPy with libnvrtc not installed")
def test_cuda_source_compiles_with_nvrtc_as_at_runtime():
    """The exact runtime path: NVRTC, no host compiler, no system headers."""
    nvrtc = _nvrtc()
    source = (kernel_dir() / "recolor.cu").read_text()
    prog = nvrtc.createProgram(source, "recolor.cu", [], [])
    nvrtc.compileProgram(prog, ["-std=c++17", f"-I{include_dir()}",
                                "--gpu-architecture=compute_80"])
    ptx = nvrtc.getPTX(prog)
    ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
    assert ".entry recolor_kernel" in ptx
    assert "ld.global.nc.v4" in ptx  # the 16-byte vector loads


# ---- on a real GPU ---------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["triton", "cuda"])
def test_gpu_batch_of_64_mixed_images_against_reference(name, rng):
    shapes = [(int(h), int(w)) for h, w in rng.integers(1, 300, (64, 2))]
    images = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    masks = [rng.integers(0, 256, s, dtype=np.uint8) * rng.integers(0, 2, s, dtype=np.uint8)
             for s in shapes]  # soft alphas with zeros
    sources = [["red", "white", "green", "brown"][i % 4] for i in range(64)]
    targets = [["blue", "yellow", "black", "pink", "gray", "cyan", "purple"]] * 64
    params = plan_batch(sources, targets)
    outs = BACKENDS[name].run(images, masks, params, 0)
    for im, m, p, out in zip(images, masks, params, outs):
        assert out.is_cuda
        diff = np.abs(out.cpu().numpy().astype(int) - recolor_reference(im, m, p))
        assert diff.max() <= 1 and (diff[:, m == 0] == 0).all()


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["triton", "cuda"])
def test_gpu_inputs_stay_on_the_gpu(name, rng):
    img = torch.from_numpy(rng.integers(0, 256, (4, 64, 48, 3), dtype=np.uint8)).cuda()
    mask = torch.from_numpy(rng.integers(0, 2, (4, 64, 48)).astype(bool)).cuda()
    out = colorist.recolor(img, mask, "red", ["blue"] * 3, backend=name, selective=False)
    assert out.is_cuda and out.shape == (4, 3, 64, 48, 3)
    ref = colorist.recolor(img.cpu().numpy(), mask.cpu().numpy(), "red", ["blue"] * 3,
                           backend="reference", selective=False)
    assert np.abs(out.cpu().numpy().astype(int) - ref).max() <= 1


@pytest.mark.cuda
def test_cuda_takes_cupy_arrays(rng):
    cupy = pytest.importorskip("cupy")
    img = cupy.asarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8))
    mask = cupy.asarray(rng.integers(0, 2, (32, 40), dtype=np.uint8))
    out = colorist.recolor(img, mask, "green", ["red", "blue"], backend="cuda", selective=False)
    assert isinstance(out, cupy.ndarray) and out.shape == (2, 32, 40, 3)
    ref = colorist.recolor(img.get(), mask.get(), "green", ["red", "blue"], backend="reference",
                           selective=False)
    assert np.abs(out.get().astype(int) - ref).max() <= 1



def test_cuda_devices_are_compared_with_their_index(monkeypatch):
    """torch.device("cuda") != cuda:0: pack normalises the device first, so a CUDA batch
    already on the device is used in place instead of round-tripping the host."""
    from colorist.recolor.gpu_batch import resolve_device

    assert torch.device("cuda") != torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")
