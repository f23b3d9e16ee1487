"""Probe suite time per 1,000 stimuli with a CLIP ViT-B/32-shaped model (random weights).

    python bench/probes.py                     # ViT-B/32 shapes, CPU, 432 stimuli
    python bench/probes.py --size tiny         # smoke run (2 layers, width 32)
    python bench/probes.py --save              # also write bench/results/probes-cpu.md

The model is ``colorist.models.tiny.build_tiny_clip(size=...)``: CLIP ViT-B/32's config
(12 + 12 layers, 224 px, patch 32) with random weights, behind the same ``HFClipScorer`` as
a hub checkpoint, so preprocessing and encoding cost what they cost with real weights.
Rows: building the suite (colour sampling + layout), and ``run_probes`` split into rendering
the stimuli, preprocessing + image encoding, text encoding, and metrics with bootstrap
intervals (the rest); each as seconds and seconds per 1,000 stimuli. Prints the table;
``--save`` also writes ``bench/results/probes-<device>.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.cli import HelpFormatter, int_range  # noqa: E402
from colorist.io.atomic import atomic_write_text  # noqa: E402
from colorist.models.scorer import HFClipScorer  # noqa: E402
from colorist.models.tiny import build_tiny_clip  # noqa: E402
from colorist.probes import TASKS, ProbeConfig, build_suite, run_probes  # noqa: E402


def measure(size: str, n_per_colour: int, stroop_repeats: int, image_size: int,
            batch_size: int, resamples: int, tasks=TASKS, device: str = "cpu") -> dict:
    """Seconds of each stage of one probe run (see the module docstring)."""
    model, processor = build_tiny_clip(size=size)
    scorer = HFClipScorer(model, processor, f"random {size}", device=device)
    t0 = time.perf_counter()
    suite = build_suite(ProbeConfig(tasks=tasks, n_per_color=n_per_colour,
                                    stroop_repeats=stroop_repeats, image_size=image_size))
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = run_probes(scorer, suite, batch_size, n_resamples=resamples)
    total_s = time.perf_counter() - t0
    sec = report["seconds"]
    metrics_s = total_s - sec["render"] - sec["images"] - sec["texts"]
    return {"stimuli": len(suite), "build": build_s, "render": sec["render"],
            "images": sec["images"], "texts": sec["texts"], "metrics": metrics_s,
            "run": total_s}


def table(r: dict, title: str) -> list[str]:
    per_k = 1000 / r["stimuli"]
    rows = [("build suite (sample colours, layout)", "build"), ("render stimuli", "render"),
            ("preprocess + encode images", "images"),
            ("encode prompts (a fixed cost per config)", "texts"),
            ("metrics + bootstrap intervals", "metrics"), ("**run_probes total**", "run")]
    md = [f"# {title}", "", "| stage | s | s per 1,000 stimuli |", "|---|---:|---:|"]
    md += [f"| {name} | {r[key]:.2f} | {r[key] * per_k:.1f} |" for name, key in rows]
    return md


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--size", default="vit-b-32", choices=["vit-b-32", "tiny"],
                   help="model shapes (random weights)")
    p.add_argument("--n-per-colour", type=int_range(1), default=4,
                   help="stimuli per colour and colour task (12 colours x 3 tasks)")
    p.add_argument("--stroop-repeats", type=int_range(1), default=1,
                   help="renderings per Stroop cell (each = 144 words + 144 neutral twins)")
    p.add_argument("--tasks", type=lambda t: tuple(t.split(",")), default=",".join(TASKS),
                   help="comma-separated probe tasks: " + ",".join(TASKS))
    p.add_argument("--image-size", type=int_range(32, 1024), default=224,
                   help="stimulus side in pixels")
    p.add_argument("--batch-size", type=int_range(1), default=64, help="images encoded at once")
    p.add_argument("--resamples", type=int_range(100), default=10000,
                   help="bootstrap resamples of every interval")
    p.add_argument("--save", action="store_true",
                   help="write bench/results/probes-<device>.md (else only print)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results",
                   help="results folder used with --save")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    r = measure(args.size, args.n_per_colour, args.stroop_repeats, args.image_size,
                args.batch_size, args.resamples, args.tasks)
    title = (f"Probe suite on cpu ({args.size} random weights, {r['stimuli']} stimuli, "
             f"{args.image_size} px, batch {args.batch_size}, {torch.get_num_threads()} "
             f"threads, {os.cpu_count()} cores, load average {load:.1f} at start)")
    md = table(r, title)
    print("\n".join(md))
    if not args.save:
        print("not saved (pass --save to write bench/results/)")
        return 0
    cmd = "python bench/probes.py " + " ".join(a for a in (argv or sys.argv[1:]))
    atomic_write_text(args.out / "probes-cpu.md", "\n".join([*md, "", f"Command: `{cmd}`", ""]))
    print(f"wrote {args.out / 'probes-cpu.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
