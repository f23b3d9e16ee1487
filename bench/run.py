"""Recolouring microbenchmarks: every available backend side by side in one run.

    python bench/run.py            # on a GPU: the GPU grid + end-to-end bulk; else the CPU grid
    python bench/run.py --quick    # a smaller grid, fewer repeats (CPU-only machines, CI)
    python bench/run.py --cpu      # also the CPU grid on a GPU machine

Backends: ``reference`` (numpy/OpenCV), ``cpu`` (C++/OpenMP), ``torch-eager`` (the
unfused kornia/torchvision way, bench/torch_eager.py), ``triton`` and ``cuda`` (fused
kernels). GPU rows: sizes 256^2..2048^2, batch 1..256, K = 1 and 7, timed by
``triton.testing.do_bench`` (median) on a packed batch into a preallocated output; GB/s
counts the bytes a fused kernel must move (3 read + 1 alpha + 3K written per pixel), and
``% of copy`` compares that with a device-to-device copy measured in the same run (the
practical bandwidth peak). CPU rows: median of repeated runs, 1 and 2 threads, HSV rows
(red -> colours) and CIELAB rows (white -> colours); each backend's kernel on a ready
alpha and plan, ``cpu-api`` (the public ``colorist.recolor``: pre-pass + plan + kernel),
``cpu-api-prepared`` (``colorist.prepare(...).recolor(targets)``: validation, plan and
kernel through the public API, the object's pre-pass done once beforehand), and the
anchor ``opencv-roundtrip`` (OpenCV's SIMD RGB -> HSV -> RGB of the same image, which does
far less), with every row's time as a multiple of the anchor's. Prints
the table; ``--save`` also writes bench/results/<device>.json and .md (the committed
results are never overwritten by a plain run).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.e2e import bulk_images_per_second  # noqa: E402
from bench.torch_eager import recolor_torch_eager  # noqa: E402
from colorist.cli import HelpFormatter  # noqa: E402
from colorist.palette import DEFAULT_PALETTE  # noqa: E402
from colorist.recolor import gpu_backends, prepare, recolor  # noqa: E402
from colorist.recolor.backends import BACKENDS, available_backends, get_backend  # noqa: E402
from colorist.recolor.plan import plan_batch  # noqa: E402
from colorist.recolor.reference import recolor_reference  # noqa: E402

SOURCE = "red"
TARGETS_7 = ["orange", "yellow", "green", "cyan", "blue", "purple", "pink"]
LAB_SOURCE = "white"  # white -> colours: every row in CIELAB mode
LAB_TARGETS_7 = ["red", "orange", "yellow", "green", "cyan", "blue", "purple"]
SIZES = {"640x480": (480, 640), "1920x1080": (1080, 1920)}


@dataclass
class Row:
    backend: str
    size: str
    k: int
    threads: int
    ms: float
    mpx_per_s: float
    gb_per_s: float
    speedup_vs_reference: float | None = None  # CPU rows: vs reference; GPU: vs torch-eager
    batch: int = 1
    pct_of_copy: float | None = None
    mode: str = "hsv"  # the rows' mode: hsv (red -> colours) or lab (white -> colours)
    vs_opencv: float | None = None  # CPU rows: ms over the OpenCV round trip's


def make_input(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A real photo (the demo stop sign) resized, with an elliptic alpha over ~40% of it."""
    demo = ROOT / "colorist" / "data" / "demo" / "images" / "000000525891.jpg"
    bgr = cv2.imread(str(demo))
    image = cv2.cvtColor(cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR),
                         cv2.COLOR_BGR2RGB)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.36), int(h * 0.36)), 0, 0, 360, 255, -1)
    return image, mask  # the mask as the kernels' alpha: 255 inside, 0 outside


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up (first-call allocation, thread pool start)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def bench_one(name: str, image, mask, k: int, threads: int, repeats: int,
              mode: str = "hsv") -> Row:
    """One CPU row. ``name``: a backend (its kernel alone, on a ready alpha and plan),
    ``torch-eager``, ``cpu-api`` (``colorist.recolor``: pre-pass + plan + kernel),
    ``cpu-api-prepared`` (``PreparedObjects.recolor``: plan + kernel) or
    ``opencv-roundtrip`` (cv2 RGB -> HSV -> RGB, the anchor: SIMD code doing far less)."""
    source = SOURCE if mode == "hsv" else LAB_SOURCE
    targets = (TARGETS_7 if mode == "hsv" else LAB_TARGETS_7)[:k]
    params = plan_batch([source], [targets], DEFAULT_PALETTE)
    cv2.setNumThreads(threads)  # the reference's OpenCV calls use the same thread count
    torch.set_num_threads(threads)
    if name == "torch-eager":
        args = (torch.from_numpy(image)[None], torch.from_numpy(mask)[None],
                torch.from_numpy(params))
        ms = median_ms(lambda: recolor_torch_eager(*args), repeats)
    elif name == "opencv-roundtrip":
        def roundtrip():
            return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2HSV), cv2.COLOR_HSV2RGB)
        ms = median_ms(roundtrip, repeats)
    elif name == "cpu-api":
        ms = median_ms(lambda: recolor(image, mask, source, targets, backend="cpu",
                                       threads=threads), repeats)
    elif name == "cpu-api-prepared":
        prepared = prepare(image, mask, source, backend="cpu", threads=threads)
        ms = median_ms(lambda: prepared.recolor(targets, threads), repeats)
    else:
        impl = get_backend(name)
        ms = median_ms(lambda: impl.run([image], [mask], params, threads), repeats)
    px = image.shape[0] * image.shape[1]
    moved = px * (3 + 1 + 3 * k)
    return Row(name, f"{image.shape[1]}x{image.shape[0]}", k, threads, round(ms, 3),
               round(px / ms / 1e3, 1), round(moved / ms / 1e6, 3), mode=mode)


def run_cpu(quick: bool) -> list[Row]:
    native = [b for b in ("reference", "cpu") if b in available_backends()]
    backends = ["opencv-roundtrip", *native, "torch-eager"]
    if "cpu" in native:
        backends += ["cpu-api", "cpu-api-prepared"]
    sizes = {"640x480": SIZES["640x480"]} if quick else SIZES
    rows = []
    for h, w in sizes.values():
        image, mask = make_input(h, w)
        for mode in ("hsv", "lab"):
            for k in (1, 7):
                for threads in (1, 2):
                    rows += _cpu_group(backends, image, mask, k, threads, mode,
                                       3 if quick else 7)
    return rows


def _cpu_group(backends, image, mask, k, threads, mode, repeats) -> list[Row]:
    """The rows of one (size, K, threads, mode): ratios against the reference and OpenCV."""
    rows, ref, anchor = [], None, None
    for name in backends:
        if mode == "lab" and name == "torch-eager":
            continue  # torch-eager has HSV rows only (the anchor stays the HSV round trip)
        row = bench_one(name, image, mask, k, threads, repeats, mode)
        ref = row.ms if name == "reference" else ref
        anchor = row.ms if name == "opencv-roundtrip" else anchor
        row.speedup_vs_reference = round(ref / row.ms, 2) if ref else None
        row.vs_opencv = round(row.ms / anchor, 2) if anchor else None
        rows.append(row)
        print(f"{row.backend:>16} {row.size:>10} {mode} K={k} threads={threads}: "
              f"{row.ms:9.2f} ms {row.mpx_per_s:8.1f} Mpx/s {row.gb_per_s:7.3f} GB/s"
              f"  {row.speedup_vs_reference}x vs reference, {row.vs_opencv}x the OpenCV round "
              f"trip", flush=True)
    return rows


# ---- GPU -------------------------------------------------------------------------------

GPU_SIZES = (256, 512, 1024, 2048)
GPU_BATCHES = (1, 16, 64, 256)
MAX_GPU_BYTES = 12e9  # skip grid points that would move more than this a launch
MAX_EAGER_PIXELS = 2**26  # torch-eager keeps ~40 float images alive: cap its batch


def gpu_ms(fn) -> float:
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))


def copy_gb_per_s() -> float:
    """Device-to-device copy of 1 GiB: the practical bandwidth peak (read + write)."""
    src = torch.empty(2**30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = gpu_ms(lambda: dst.copy_(src))
    return 2 * src.numel() / ms / 1e6


def _uniform_batch(image: np.ndarray, mask: np.ndarray, n: int):
    images = torch.from_numpy(image).cuda()[None].expand(n, -1, -1, -1).contiguous()
    masks = torch.from_numpy(mask).cuda()[None].expand(n, -1, -1).contiguous()
    return images, masks


def _gpu_kernel_ms(name: str, images, masks, params: np.ndarray) -> float:
    k = params.shape[1]
    if name == "torch-eager":
        p = torch.from_numpy(params).cuda()
        return gpu_ms(lambda: recolor_torch_eager(images, masks, p))
    launch = {"triton": gpu_backends.launch_triton, "cuda": gpu_backends.launch_cuda}[name]
    batch = BACKENDS[name].pack(list(images), list(masks))  # in place: no copy
    out = torch.empty(batch.output_bytes(k), dtype=torch.uint8, device="cuda")
    p, meta = torch.from_numpy(params).cuda(), batch.meta(k)
    return gpu_ms(lambda: launch(batch, out, p, meta, k, False))


def run_gpu(quick: bool, peak: float) -> list[Row]:
    names = [n for n in ("triton", "cuda") if BACKENDS[n].unavailable() is None]
    sizes, batches = ((512, 1024), (1, 64)) if quick else (GPU_SIZES, GPU_BATCHES)
    rows = []
    for side in sizes:
        image, mask = make_input(side, side)
        for n in batches:
            for k in (1, 7):
                moved = n * side * side * (4 + 3 * k)
                if moved > MAX_GPU_BYTES:
                    continue
                images, masks = _uniform_batch(image, mask, n)
                params = plan_batch([SOURCE] * n, [TARGETS_7[:k]] * n, DEFAULT_PALETTE)
                eager = n * side * side <= MAX_EAGER_PIXELS
                timed = {name: _gpu_kernel_ms(name, images, masks, params)
                         for name in ([*names, "torch-eager"] if eager else names)}
                for name, ms in timed.items():
                    row = Row(name, f"{side}x{side}", k, 0, round(ms, 4),
                              round(n * side * side / ms / 1e3, 1), round(moved / ms / 1e6, 1),
                              batch=n, pct_of_copy=round(100 * moved / ms / 1e6 / peak, 1))
                    if "torch-eager" in timed:
                        row.speedup_vs_reference = round(timed["torch-eager"] / ms, 1)
                    rows.append(row)
                    print(f"{name:>12} {side}^2 x{n:<4} K={k}: {ms:9.4f} ms "
                          f"{row.gb_per_s:8.1f} GB/s {row.pct_of_copy:5.1f}% of copy  "
                          f"x{row.speedup_vs_reference} vs eager", flush=True)
                del images, masks
                torch.cuda.empty_cache()
    return rows


def check_gpu_against_reference() -> dict:
    """Max |difference| from the reference of each GPU backend (and torch-eager) on the
    bench input, so a fast wrong kernel cannot go unnoticed in the numbers."""
    image, mask = make_input(480, 640)
    params = plan_batch([SOURCE], [TARGETS_7], DEFAULT_PALETTE)
    ref = recolor_reference(image, mask, params[0]).astype(int)
    out = {}
    for name in ("triton", "cuda"):
        if BACKENDS[name].unavailable() is None:
            got = BACKENDS[name].run([image], [mask], params, 0)[0].cpu().numpy()
            out[name] = int(np.abs(got.astype(int) - ref).max())
    images, masks = _uniform_batch(image, mask, 1)
    eager = recolor_torch_eager(images, masks, torch.from_numpy(params).cuda())[0]
    out["torch-eager"] = int(np.abs(eager.cpu().numpy().astype(int) - ref).max())
    return out


def markdown(rows: list[Row]) -> str:
    gpu = any(r.pct_of_copy is not None for r in rows)
    base = "vs torch-eager" if gpu else "vs reference"
    head = (f"| backend | mode | size | batch | K | threads | ms | Mpx/s | GB/s | % of copy | "
            f"{base} | x OpenCV round trip |\n")
    head += "|---|---|---|---|---|---|---|---|---|---|---|---|\n"

    def opt(x, suffix=""):
        return "-" if x is None else f"{x}{suffix}"

    return head + "".join(
        f"| {r.backend} | {r.mode} | {r.size} | {r.batch} | {r.k} | {r.threads or '-'} | "
        f"{r.ms} | {r.mpx_per_s} | {r.gb_per_s} | {opt(r.pct_of_copy)} | "
        f"{opt(r.speedup_vs_reference, 'x')} | {opt(r.vs_opencv, 'x')} |\n" for r in rows
    )


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name().replace(" ", "_").replace("/", "_")
    cpu = platform.processor() or platform.machine()
    return f"cpu-{cpu}".replace(" ", "_").replace("/", "_")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small grid for CPU-only smoke runs")
    ap.add_argument("--cpu", action="store_true", help="also the CPU grid on a GPU machine")
    ap.add_argument("--e2e-images", type=int, default=0,
                    help="input images of the end-to-end bulk run (default: 0 = 2048 on a "
                         "GPU, 32 on a CPU)")
    ap.add_argument("--save", action="store_true",
                    help="write the results to --out (else only print them)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                    help="results folder used with --save")
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    gpu = torch.cuda.is_available()
    meta = {"device": device_name(), "python": platform.python_version(),
            "opencv": cv2.__version__, "torch": torch.__version__, "quick": args.quick,
            "source": SOURCE, "targets": TARGETS_7}
    rows = run_cpu(args.quick) if (args.cpu or not gpu) else []
    if gpu:
        meta["copy_gb_per_s"] = round(copy_gb_per_s(), 1)
        print(f"device-to-device copy: {meta['copy_gb_per_s']} GB/s", flush=True)
        meta["max_abs_diff_vs_reference"] = check_gpu_against_reference()
        rows += run_gpu(args.quick, meta["copy_gb_per_s"])
    backend = "auto"
    n = args.e2e_images or (2048 if gpu else 32)
    image, _ = make_input(480, 640)
    meta["e2e"] = bulk_images_per_second(backend, image, n, k=7, batch_size=64 if gpu else 16)
    print(f"end to end: {meta['e2e']}", flush=True)
    name = meta["device"]
    e2e = meta["e2e"]
    text = markdown(rows) + (
        f"\nEnd to end (`run_batch`, {e2e['images_in']} 640x480 JPEGs, K={e2e['k']}, backend "
        f"{e2e['backend']}, colour check {'on' if e2e['check'] else 'off'}): "
        f"{e2e['output_images_per_s']} output images/s.\n")
    if gpu:
        text += (f"\nDevice-to-device copy: {meta['copy_gb_per_s']} GB/s. Max |diff| vs "
                 f"reference: {meta['max_abs_diff_vs_reference']}.\n")
    print("\n" + text)
    if not args.save:
        print("not saved (pass --save to write bench/results/)")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(
        json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(text)
    print(f"saved {args.out / (name + '.json')}")


if __name__ == "__main__":
    main()
