"""Colourisation: the soft encoder (RGB -> L + soft ab targets) and training steps/s.

    python bench/colorize.py                 # print
    python bench/colorize.py --save          # also write bench/results/colorize-<device>.md

Encoder rows (a batch of random 8-bit images, 5 nearest bins, sigma 5, stride 4):
``numpy reference`` (colorist/colorize/encode.py: float64 Lab, brute-force nearest bins),
``fast CPU`` (``soft_encode_fast``, the ``cpu`` backend: L from per-channel luminance tables,
the float64 ab of the cells' first pixels only, the k nearest among the few candidates of a
cached ab-cell table; the reference's output bit for bit), ``fast CPU, _C Lab`` (the same
with L from the compiled extension's full Lab, ``--threads`` threads; when it imports),
``skimage + cKDTree`` (skimage.color.rgb2lab, scipy's k-d tree for the 5 nearest bins: the
off-the-shelf path) and, on a GPU only, ``triton fused`` (kernels/colorize_triton.py; one
read of the image, L and k (index, weight) pairs written: ``3 + 4 + 12 k / stride^2`` bytes a
pixel). Under TRITON_INTERPRET=1 the kernel runs in Triton's interpreter, a correctness tool
whose speed means nothing: the row is left out on a CPU.

Training rows: one optimiser step (encode + forward + backward + AdamW, class-rebalanced
loss) of the width-reduced ECCV16 (``--model``), eager vs ``torch.compile`` (fp32 on a CPU,
bf16 autocast on CUDA). Medians of repeated timings; the load average is printed because
the machine may be shared.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.cli import HelpFormatter  # noqa: E402
from colorist.colorize import SoftEncoding, build_model, gamut_bins, soft_encode  # noqa: E402
from colorist.colorize.encode import (  # noqa: E402
    candidate_table,
    gaussian_weights,
    native_lab_available,
    soft_encode_fast,
    soft_encode_reference,
)
from colorist.colorize.train import make_step  # noqa: E402


def median_s(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def skimage_encode(rgb: np.ndarray, tree, enc: SoftEncoding):
    """The off-the-shelf path: skimage Lab, a k-d tree over the bins, Gaussian weights."""
    from skimage.color import rgb2lab

    lab = rgb2lab(rgb)
    cells = lab[:, :: enc.stride, :: enc.stride, 1:]
    d, idx = tree.query(cells.reshape(-1, 2), k=enc.k)
    return lab[..., 0], idx, gaussian_weights(d.reshape(-1, enc.k) ** 2, enc.sigma)


def encoder_rows(batch: int, side: int, repeats: int, threads: int = 1) -> list[dict]:
    from scipy.spatial import cKDTree

    bins, enc = gamut_bins(), SoftEncoding()
    rgb = np.random.default_rng(0).integers(0, 256, (batch, side, side, 3), dtype=np.uint8)
    px = rgb.shape[0] * side * side
    tree = cKDTree(bins.astype(np.float64))
    candidate_table(bins.astype(np.float64), enc.k)  # built once a bin set, like the tree
    rows = [("numpy reference", median_s(lambda: soft_encode_reference(rgb, bins, enc),
                                         repeats)),
            ("fast CPU", median_s(lambda: soft_encode_fast(rgb, bins, enc), repeats))]
    if native_lab_available():
        rows.append(("fast CPU, _C Lab", median_s(
            lambda: soft_encode_fast(rgb, bins, enc, native=True, threads=threads), repeats)))
    rows.append(("skimage + cKDTree", median_s(lambda: skimage_encode(rgb, tree, enc),
                                               repeats)))
    if torch.cuda.is_available():
        import triton.testing

        x = torch.from_numpy(rgb).cuda()
        b = torch.from_numpy(np.array(bins)).cuda()
        ms = triton.testing.do_bench(lambda: soft_encode(x, b, enc, backend="triton"))
        rows.append(("triton fused", ms / 1e3))
    out = []
    for name, s in rows:
        bytes_px = 3 + 4 + 12 * enc.k / enc.stride**2
        out.append({"encoder": name, "images": f"{batch}x{side}x{side}", "ms": s * 1e3,
                    "mpx_s": px / s / 1e6, "gb_s": px * bytes_px / s / 1e9})
    return out


def kernel_registers(arch: int = 90, configs=((8, 4), (16, 4), (16, 8), (32, 4), (32, 8))
                     ) -> list[str]:
    """Registers and spill bytes a thread of the Triton encoder for ``(BLOCK, warps)``
    configurations, compiled offline for ``sm_<arch>`` (no GPU needed: triton + cuobjdump)."""
    import re
    import subprocess
    import tempfile

    os.environ.pop("TRITON_INTERPRET", None)  # before the kernel module is imported
    import triton
    from colorist.kernels.colorize_triton import _soft_encode_kernel as fn
    from triton.backends.compiler import GPUTarget

    from bench.sass import find_tool

    types = {"rgb_ptr": "*u8", "idx_ptr": "*i64", "inv_two_sigma2": "fp32"}
    sig = {p.name: "constexpr" if p.is_constexpr else types.get(
        p.name, "*fp32" if p.name.endswith("_ptr") else "i32") for p in fn.params}
    lines = [f"## Triton encoder compiled for sm_{arch} (k 5, stride 4, 512 bin slots)", "",
             "| BLOCK | warps | registers | spill (B) |", "|---:|---:|---:|---:|"]
    for block, warps in configs:
        src = triton.compiler.ASTSource(fn=fn, signature=sig, constexprs={
            "STRIDE": 4, "K": 5, "KP": 8, "QP": 512, "BLOCK": block})
        compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                                  options={"num_warps": warps})
        with tempfile.TemporaryDirectory() as tmp:
            cubin = Path(tmp) / "k.cubin"
            cubin.write_bytes(compiled.asm["cubin"])
            usage = subprocess.run([find_tool("cuobjdump"), "-res-usage", str(cubin)],
                                   check=True, capture_output=True, text=True).stdout
        regs, local = (re.search(rf"{k}:(\d+)", usage).group(1) for k in ("REG", "LOCAL"))
        lines.append(f"| {block} | {warps} | {regs} | {local} |")
    return [*lines, ""]


def train_rows(model: str, batch: int, crop: int, steps: int) -> list[dict]:
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    bins = gamut_bins()
    crops = torch.from_numpy(np.random.default_rng(1).integers(
        0, 256, (batch, crop, crop, 3), dtype=np.uint8))
    weights = torch.ones(len(bins), device=device)
    rows = []
    for compiled in (False, True):
        torch.manual_seed(0)
        net = build_model(model, bins).to(device).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        step = make_step(net, opt, weights, SoftEncoding(), device, cuda, compiled)
        t0 = time.perf_counter()
        step(crops)  # the first step compiles
        first = time.perf_counter() - t0
        s = median_s(functools.partial(step, crops), steps, warmup=2)
        rows.append({"config": ("torch.compile" if compiled else "eager")
                     + (" + bf16" if cuda else " fp32"), "model": model,
                     "batch": f"{batch}x{crop}x{crop}", "steps_per_s": 1 / s,
                     "first_step_s": first})
    base = rows[0]["steps_per_s"]
    for r in rows:
        r["x_eager"] = r["steps_per_s"] / base
    return rows


def markdown(enc: list[dict], tr: list[dict], device: str, threads: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [f"# Colourisation on {device} ({threads} torch threads, load average {load:.1f})",
             "", "## Soft encoder (RGB -> L + 5 soft targets, stride 4)", "",
             "| encoder | images | ms | Mpx/s | GB/s |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['encoder']} | {r['images']} | {r['ms']:.1f} | {r['mpx_s']:.2f} | "
              f"{r['gb_s']:.3f} |" for r in enc]
    lines += ["", "## Training step (encode + forward + backward + AdamW)", "",
              "| config | model | batch | steps/s | x eager | first step s |",
              "|---|---|---|---:|---:|---:|"]
    lines += [f"| {r['config']} | {r['model']} | {r['batch']} | {r['steps_per_s']:.2f} | "
              f"{r['x_eager']:.2f} | {r['first_step_s']:.1f} |" for r in tr]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--batch", type=int, default=8, help="images a batch (encoder and training)")
    p.add_argument("--side", type=int, default=256, help="encoder image side (px)")
    p.add_argument("--crop", type=int, default=64, help="training crop side (px)")
    p.add_argument("--model", default="eccv16-w8", help="network of the training rows")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats a row (median)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(),
                   help="torch CPU threads")
    p.add_argument("--registers", action="store_true",
                   help="also compile the Triton encoder offline for sm_90 and report its "
                        "registers (needs triton and cuobjdump, no GPU)")
    p.add_argument("--save", action="store_true",
                   help="write bench/results/colorize-<device>.md (else only print)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results",
                   help="results folder used with --save")
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    md = markdown(encoder_rows(a.batch, a.side, a.repeats, a.threads),
                  train_rows(a.model, a.batch, a.crop, a.repeats), device, a.threads)
    if a.registers:
        md += "\n" + "\n".join(kernel_registers())
    print(md)
    if not a.save:
        print("not saved (pass --save to write bench/results/)")
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"colorize-{device.replace(' ', '-')}.md").write_text(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
