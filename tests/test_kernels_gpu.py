"""GPU kernels (kernels/): batch layout, Triton under its CPU interpreter, the CUDA C++
source through nvcc/NVRTC, and both kernels on a real GPU (tests marked ``cuda``).

Value-level agreement of every backend with the reference is tested in
test_recolor_backends.py (parametrized over all backends, triton and cuda included).
"""

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import colorist
from colorist.recolor import gpu_backends, plan_batch, recolor_reference
from colorist.recolor.backends import BACKENDS, get_backend
from colorist.recolor.gpu_backends import (
    PIXELS_PER_THREAD,
    THREADS_PER_BLOCK,
    image_chunks,
    include_dir,
    kernel_dir,
    triton_unavailable,
)
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
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_source_compiles_with_nvcc(tmp_path, arch):
    """Both entries compile warning-free, within 64 registers (4 blocks of 256 threads an
    SM) and without spilling."""
    cmd = ["nvcc", "-std=c++17", f"-arch={arch}", f"-I{include_dir()}", "-c",
           str(kernel_dir() / "recolor.cu"), "-o", str(tmp_path / "recolor.o"),
           "-Xptxas", "-v", "-Werror", "all-warnings"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for entry in ("recolor_kernel_hsv", "recolor_kernel_lab"):
        report = proc.stderr.split(f"Compiling entry function '{entry}'")[1]
        registers = int(re.search(r"Used (\d+) registers", report).group(1))
        assert registers <= 64 and "0 bytes spill stores" in report, report


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
    prog = nvrtc.createProgram(gpu_backends.cuda_source(), "recolor.cu", [], [])
    nvrtc.compileProgram(prog, ["-std=c++17", f"-I{include_dir()}",
                                "--gpu-architecture=compute_80"])
    ptx = nvrtc.getPTX(prog)
    ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
    assert ".entry recolor_kernel_hsv" in ptx and ".entry recolor_kernel_lab" in ptx
    # 8 pixels a thread: 8-byte vector loads and stores of RGB and alpha, float4 rows
    assert "ld.global.nc.v2.u32" in ptx and "st.global.v2.u32" in ptx
    assert "ld.global.nc.v4.f32" in ptx


def test_cuda_source_carries_the_header_hash(tmp_path, monkeypatch):
    """CuPy caches NVRTC binaries by source text: a header edit must change the text."""
    import hashlib

    before = gpu_backends.cuda_source()
    assert before.splitlines()[1:] == (kernel_dir() / "recolor.cu").read_text().splitlines()
    include = tmp_path / "include" / "colorist"
    include.mkdir(parents=True)
    for name in ("pixel_math.h", "param_layout.h"):
        (include / name).write_bytes((include_dir() / "colorist" / name).read_bytes())
    (include / "pixel_math.h").write_text((include / "pixel_math.h").read_text() + "// edit\n")
    monkeypatch.setattr(gpu_backends, "include_dir", lambda: tmp_path / "include")
    after = gpu_backends.cuda_source()
    assert after != before and after.splitlines()[1:] == before.splitlines()[1:]
    digest = hashlib.sha256(b"".join((include / n).read_bytes()
                                     for n in ("pixel_math.h", "param_layout.h")))
    assert after.splitlines()[0] == f"// headers sha256 {digest.hexdigest()}"


def test_launch_constants_match_the_kernel_source():
    source = (kernel_dir() / "recolor.cu").read_text()
    assert f"constexpr int kThreads = {THREADS_PER_BLOCK};" in source
    assert f"constexpr int kPixelsPerThread = {PIXELS_PER_THREAD};" in source
    assert ALIGN_PX % PIXELS_PER_THREAD == 0  # no thread's pixels cross an image's padding


@needs_triton
def test_triton_autotune_key_has_a_size_class():
    """A tiny first batch must not fix the block size for large ones: the autotuner keys on
    the bit length of the largest image, and every config has a group of 4 pixels a
    thread at least (no replicated word tensors)."""
    from colorist.kernels import recolor_triton as kt

    assert kt.recolor_kernel_autotuned.keys == ["K", "HAS_LAB", "SIZE_CLASS"]
    assert kt.size_class(1) < kt.size_class(64 * 64) < kt.size_class(1920 * 1080)
    assert kt.size_class(1000) == kt.size_class(1020)
    for config in kt.AUTOTUNE_CONFIGS:
        assert config.kwargs["BLOCK"] >= 4 * 32 * config.num_warps


@pytest.mark.parametrize("n, limit", [(1, 65535), (65535, 65535), (65536, 65535),
                                      (200_000, 65535), (7, 3), (6, 3), (0, 3)])
def test_image_chunks_cover_every_image_once_within_the_grid_limit(n, limit):
    chunks = image_chunks(n, limit)
    covered = [i for first, count in chunks for i in range(first, first + count)]
    assert covered == list(range(n))
    assert all(1 <= count <= limit for _, count in chunks)


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


# ---- the CUDA kernel on the host: kernels/recolor.cu through g++ (no GPU needed) ------

NATIVE = Path(__file__).resolve().parent / "native"


@pytest.fixture(scope="module")
def cuda_on_host(tmp_path_factory):
    """kernels/recolor.cu built by g++ with tests/native/cuda_host_shim.h: the kernel code
    and the header's device arithmetic (COLORIST_DEVICE_MATH), run one thread at a time."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    lib = tmp_path_factory.mktemp("cuda-on-host") / "recolor_host.so"
    cmd = [cxx, "-O2", "-std=c++17", "-ffp-contract=off", "-shared", "-fPIC", f"-I{NATIVE}",
           f"-I{include_dir()}", f"-I{kernel_dir()}", str(NATIVE / "cuda_host_launch.cpp"),
           "-o", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    dll = ctypes.CDLL(str(lib))
    dll.device_math_mismatches.restype = ctypes.c_longlong
    dll.device_math_mismatches.argtypes = [ctypes.c_uint]
    dll.device_rgb_to_hsv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_longlong]
    dll.emulate_launch.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
                                   *[ctypes.c_void_p] * 5, ctypes.c_int]
    return dll


@pytest.fixture
def launches(cuda_on_host, monkeypatch):
    """gpu_backends' CUDA launches run by the host build; the list records (entry, grid)."""
    seen = []

    def launch(name, grid, args):
        *tensors, k = args
        assert all(t.is_contiguous() and t.device.type == "cpu" for t in tensors)
        assert tensors[3].data_ptr() % 16 == 0  # float4 rows
        seen.append((name, grid))
        cuda_on_host.emulate_launch(name.endswith("_lab"), *grid, THREADS_PER_BLOCK,
                                    *[t.data_ptr() for t in tensors], k)

    monkeypatch.setattr(gpu_backends, "_launch", launch)
    return seen


def run_cuda_on_host(images, alphas, params):
    batch = pack([np.ascontiguousarray(im) for im in images],
                 [np.ascontiguousarray(a) for a in alphas], "cpu")
    return [out.numpy() for out in gpu_backends._run(gpu_backends.launch_cuda, batch, params)]


def assert_matches_reference(images, alphas, params, outs):
    for im, a, p, out in zip(images, alphas, params, outs):
        ref = recolor_reference(im, a, p)
        assert out.shape == ref.shape
        assert np.array_equal(out[:, a == 0], ref[:, a == 0])  # untouched: bit-identical
        assert np.abs(out.astype(np.int16) - ref).max() <= 1


def soft_alpha(rng, shape):
    return (rng.integers(1, 256, shape) * rng.integers(0, 2, shape)).astype(np.uint8)


def test_device_arithmetic_is_exact(cuda_on_host):
    """The header's conversion-free replacements (reciprocal division, magic-number
    rounding and floor, the multiply-shift blend) against their definitions."""
    assert cuda_on_host.device_math_mismatches(5) == 0


def test_device_rgb_to_hsv_equals_opencv_on_every_colour(cuda_on_host):
    r, g, b = np.meshgrid(np.arange(256), np.arange(256), np.arange(256), indexing="ij")
    cube = np.ascontiguousarray(np.stack([r, g, b], -1).astype(np.uint8).reshape(-1, 1, 3))
    hsv = np.empty_like(cube)
    cuda_on_host.device_rgb_to_hsv(cube.ctypes.data, hsv.ctypes.data, len(cube))
    assert np.array_equal(hsv, cv2.cvtColor(cube, cv2.COLOR_RGB2HSV))


@pytest.mark.parametrize("sources", [["red", "green", "brown"], ["white", "red", "black"]])
def test_cuda_kernel_on_host_mixed_batch(launches, rng, sources):
    """Odd sizes, soft alphas with zeros, 7 targets: the HSV entry for chromatic sources,
    the CIELAB one as soon as an achromatic source brings CIELAB rows."""
    shapes = [(17, 33), (1, 1), (64, 48), (5, 300)]
    images = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    alphas = [soft_alpha(rng, s) for s in shapes]
    alphas[2][:32] = 0  # whole threads without a pixel to recolour
    srcs = [sources[i % len(sources)] for i in range(len(shapes))]
    targets = [["blue", "yellow", "black", "pink", "gray", "cyan", "purple"]] * len(shapes)
    params = plan_batch(srcs, targets)
    outs = run_cuda_on_host(images, alphas, params)
    assert_matches_reference(images, alphas, params, outs)
    lab = "white" in sources
    assert {name for name, _ in launches} == {f"recolor_kernel_{'lab' if lab else 'hsv'}"}


@pytest.mark.parametrize("source", ["red", "gray"])
def test_cuda_kernel_on_host_every_rgb_value(launches, source):
    r, g, b = np.meshgrid(np.arange(0, 256, 3), np.arange(0, 256, 5), np.arange(256),
                          indexing="ij")
    img = np.stack([r, g, b], -1).astype(np.uint8).reshape(-1, 256, 3)
    alpha = np.full(img.shape[:2], 255, np.uint8)
    params = plan_batch([source], [["blue", "pink", "white", source]])
    assert_matches_reference([img], [alpha], params, run_cuda_on_host([img], [alpha], params))


def test_cuda_kernel_on_host_grey_ties_and_red_wrap(launches):
    px = [(v, v, v) for v in (0, 1, 2, 50, 127, 128, 254, 255)]
    px += [(255, 255, 0), (0, 255, 255), (255, 0, 255), (200, 200, 10), (10, 200, 200),
           (200, 10, 200), (255, 0, 1), (255, 1, 0), (254, 0, 3), (250, 0, 7), (1, 0, 0)]
    img = np.array(px, np.uint8)[None]
    alpha = np.full(img.shape[:2], 255, np.uint8)
    for source in ("red", "white", "brown"):
        params = plan_batch([source], [["blue", "yellow", "red", "gray", "black"]])
        assert_matches_reference([img], [alpha], params, run_cuda_on_host([img], [alpha], params))


def test_cuda_kernel_on_host_chunks_batches_over_the_grid_limit(launches, rng, monkeypatch):
    """More images than gridDim.y allows: consecutive launches, each with its slice of
    meta and params, recolour every image (the limit made 2 to test it with 5 images)."""
    monkeypatch.setattr(gpu_backends, "MAX_GRID_Y", 2)
    shapes = [(3, 5), (40, 70), (1, 1), (16, 16), (9, 9)]
    images = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    alphas = [soft_alpha(rng, s) for s in shapes]
    params = plan_batch(["red", "green", "blue", "yellow", "pink"], [["cyan", "brown"]] * 5)
    outs = run_cuda_on_host(images, alphas, params)
    assert [grid[1] for _, grid in launches] == [2, 2, 1]
    blocks = -(-40 * 70 // (THREADS_PER_BLOCK * PIXELS_PER_THREAD))
    assert all(grid[0] == blocks for _, grid in launches)
    assert_matches_reference(images, alphas, params, outs)
