"""The per-object pre-pass (selective alpha + source box) on the demo objects: the numpy /
OpenCV one (host backends) against the torch one (GPU backends) on the CPU and, where
present, on CUDA with the images already on the device.

    python bench/prepass.py            # prints the table
    python bench/prepass.py --save     # also writes bench/results/prepass-<machine>.md
    python bench/prepass.py --objects 1 --repeat 1     # a smoke run

Each row: median over --repeat runs (after one warm-up) of the pre-pass of the whole batch
(7 COCO images with their masks and caption colours), in ms per megapixel of image, for
the selective pre-pass (the default) and the plain feathered mask; the largest alpha
difference from the numpy pre-pass (LSB) says the rows computed the same thing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import median_ms  # noqa: E402
from colorist.cli import HelpFormatter  # noqa: E402
from colorist.io import mask_from_coco, read_image  # noqa: E402
from colorist.io.atomic import atomic_write_text  # noqa: E402
from colorist.palette import DEFAULT_PALETTE  # noqa: E402
from colorist.recolor.__main__ import demo_jobs_path  # noqa: E402
from colorist.recolor.prepass import PrepassConfig, prepass  # noqa: E402


def demo_batch(limit: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Images, masks and caption colours of the demo objects bundled in the package (the
    first ``limit`` of them; 0: all)."""
    path = demo_jobs_path()
    images, masks, sources = [], [], []
    lines = path.read_text().splitlines()
    for line in lines[:limit] if limit > 0 else lines:
        job = json.loads(line)
        image = read_image(path.parent / job["image"])
        images.append(image)
        masks.append(mask_from_coco(job["mask"], image.shape[:2]))
        sources.append(job["source"])
    return images, masks, sources


def _runner(name: str, images, masks, sources, cfg: PrepassConfig):
    """A no-argument call of one pre-pass over the batch, returning host alphas."""
    if name == "numpy/OpenCV":
        return lambda: prepass(images, masks, sources, DEFAULT_PALETTE, cfg)[0]
    import torch

    from colorist.recolor.prepass_torch import prepass_torch

    device = name.removeprefix("torch-")
    timgs = [torch.from_numpy(im).to(device) for im in images]
    tmasks = [torch.from_numpy(m).to(device) for m in masks]

    def run():
        alphas, _ = prepass_torch(timgs, tmasks, sources, DEFAULT_PALETTE, cfg)
        if device == "cuda":
            torch.cuda.synchronize()
        return alphas

    return run


def bench(names: list[str], repeats: int, images, masks, sources) -> list[dict]:
    """One row per pre-pass in ``names``: ms per Mpx and max alpha difference, per mode."""
    mpx = sum(im.shape[0] * im.shape[1] for im in images) / 1e6
    rows = []
    for name in names:
        row = {"pre-pass": name}
        for label, cfg in (("selective", PrepassConfig()), ("mask only",
                                                             PrepassConfig(selective=False))):
            want = prepass(images, masks, sources, DEFAULT_PALETTE, cfg)[0]
            run = _runner(name, images, masks, sources, cfg)
            got = [np.asarray(a.cpu()) if hasattr(a, "cpu") else a for a in run()]
            diff = max(int(np.abs(g.astype(int) - w).max()) for g, w in zip(got, want))
            row[f"{label} ms/Mpx"] = round(median_ms(run, repeats) / mpx, 1)
            row[f"{label} max diff"] = diff
        rows.append(row)
    return rows


def markdown(rows: list[dict], threads: int, images) -> str:
    mpx = sum(im.shape[0] * im.shape[1] for im in images) / 1e6
    head = list(rows[0])
    lines = [f"Pre-pass of the {len(images)} demo objects ({mpx:.2f} Mpx), "
             f"{machine()}, {threads or os.cpu_count()} CPU threads, "
             f"OpenCV {cv2.__version__}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(r[k]) for k in head) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def machine() -> str:
    with contextlib.suppress(ImportError):  # torch is optional here
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0).replace(" ", "-")
    return f"{platform.machine()}-{os.cpu_count()}cpu"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per row (median)")
    ap.add_argument("--objects", type=int, default=0,
                    help="use the first N demo objects (0: all 7)")
    ap.add_argument("--threads", type=int, default=0,
                    help="CPU threads for OpenCV and torch (0: all cores)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                    help="folder for --save")
    ap.add_argument("--save", action="store_true",
                    help="also write <out>/prepass-<machine>.md")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.repeat < 1 or args.threads < 0 or args.objects < 0:
        raise SystemExit("--repeat must be >= 1, --threads and --objects >= 0")
    names = ["numpy/OpenCV"]
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        names += ["torch-cpu"] + (["torch-cuda"] if torch.cuda.is_available() else [])
    except ImportError:
        print("torch not installed: numpy/OpenCV only")
    if args.threads:
        cv2.setNumThreads(args.threads)
    batch = demo_batch(args.objects)
    text = markdown(bench(names, args.repeat, *batch), args.threads, batch[0])
    print(text)
    if args.save:
        out = args.out / f"prepass-{machine()}.md"
        atomic_write_text(out, text)
        print(f"saved {out}")
    else:
        print("not saved (pass --save to write bench/results/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
