"""End-to-end bulk recolouring: ``run_batch`` (what ``python -m colorist.recolor --batch``
runs) over generated 640x480 JPEGs, K variants each; output images per second.

    python bench/e2e.py                         # cpu backend, 64 images, K=7, check on
    python bench/e2e.py --no-check --profile    # check off, seconds per pipeline stage

``--profile`` prints the run's ``stage_seconds`` (summary.json): seconds per stage summed
over the threads that ran it (pool stages overlap, so they may add up to more than the
wall time), and how long the main thread waited on the load and post stages: the stage
the main thread waits on is the one that limits the run. On GPU backends kernels run
asynchronously: device time shows in the stage that next waits for the device (the batch
encode or the check's pixel gather), not in ``kernel``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorist.cli import HelpFormatter  # noqa: E402
from colorist.recolor.batch import BatchConfig, run_batch  # noqa: E402
from colorist.recolor.jobs import read_jobs  # noqa: E402

TARGETS_7 = ["orange", "yellow", "green", "cyan", "blue", "purple", "pink"]
DEMO = ROOT / "colorist" / "data" / "demo" / "images" / "000000525891.jpg"
# stage -> what it covers (the order of the profile table)
STAGES = {
    "decode": "pool: read, decode, rasterise the mask (+ the device decode on GPU)",
    "prepass": "main: pre-pass + plan (plan_objects)",
    "kernel": "main: prepare + run (the recolouring kernel)",
    "check": "pool: the colour check (+ the sampled gather on GPU)",
    "encode": "pool: encode the variants (main: one batch call on GPU)",
    "write": "pool: atomic writes of variants and previews",
    "results": "main: results lines + one fsync a batch",
    "wait_load": "main: waiting for the load stage",
    "wait_post": "main: waiting for the post stage (check, encode, write)",
}


def demo_image(h: int = 480, w: int = 640) -> np.ndarray:
    """The demo stop sign photo resized to ``(h, w, 3)`` uint8 RGB (bench/run.py's input)."""
    bgr = cv2.resize(cv2.imread(str(DEMO)), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _write_inputs(root: Path, image: np.ndarray, n_images: int, k: int) -> Path:
    h, w = image.shape[:2]
    rng = np.random.default_rng(0)
    files = []
    for i in range(min(n_images, 32)):  # 32 distinct files (hue-jittered), reused by jobs
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        hsv[..., 2] = np.clip(hsv[..., 2].astype(int) + int(rng.integers(-20, 20)), 0, 255)
        bgr = cv2.cvtColor(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(root / f"in{i}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        files.append(f"in{i}.jpg")
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    poly = np.stack([w / 2 + 0.36 * w * np.cos(angles), h / 2 + 0.36 * h * np.sin(angles)], 1)
    lines = [json.dumps({"id": f"obj{i:05d}", "image": files[i % len(files)],
                         "mask": [poly.reshape(-1).round(1).tolist()], "source": "red",
                         "targets": TARGETS_7[:k]}) for i in range(n_images)]
    (root / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    return root / "jobs.jsonl"


def bulk_images_per_second(backend: str, image: np.ndarray, n_images: int, k: int = 7,
                           batch_size: int = 64, check: bool = True, workers: int = 0,
                           threads: int = 0) -> dict:
    """Run the bulk job once (after a small warm-up run) and report its throughput and
    its ``stage_seconds``. ``workers`` 0: one a CPU core."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        jobs, rejects = read_jobs(_write_inputs(root, image, n_images, k))
        workers = workers or os.cpu_count() or 2
        common = dict(backend=backend, batch_size=batch_size, workers=workers,
                      threads=threads, progress=False, check=check)
        run_batch(jobs[: min(len(jobs), batch_size)], BatchConfig(out=root / "warm", **common),
                  rejects)
        summary = run_batch(jobs, BatchConfig(out=root / "out", **common), rejects)
    stages = getattr(summary, "stage_seconds", {})  # absent before the pipeline had a clock
    return {"backend": summary.backend, "images_in": n_images, "k": k,
            "output_images": summary.variants, "seconds": round(summary.seconds, 3),
            "output_images_per_s": round(summary.variants / summary.seconds, 1),
            "rejected": summary.rejected, "check": check, "batch_size": batch_size,
            "workers": workers, "threads": threads,
            "stage_seconds": {s: round(v, 3) for s, v in stages.items()}}


def profile_table(row: dict) -> str:
    """The stage profile of one ``bulk_images_per_second`` row as a text table."""
    seconds = row["stage_seconds"]
    wall, n = seconds.get("wall", row["seconds"]), max(row["output_images"], 1)
    lines = [f"{'stage':<10} {'seconds':>8} {'ms/image':>9} {'% wall':>7}  what"]
    for stage in [*STAGES, *(s for s in seconds if s not in STAGES and s != "wall")]:
        if stage in seconds:
            s = seconds[stage]
            lines.append(f"{stage:<10} {s:8.3f} {1000 * s / n:9.2f} {100 * s / wall:6.1f}%  "
                         f"{STAGES.get(stage, '')}")
    lines.append(f"{'wall':<10} {wall:8.3f} {1000 * wall / n:9.2f} {100.0:6.1f}%")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=HelpFormatter)
    ap.add_argument("--backend", default="cpu", help="backend of the run (auto, cpu, ...)")
    ap.add_argument("--images", type=int, default=64, help="input images (640x480 JPEGs)")
    ap.add_argument("--k", type=int, default=7, choices=range(1, 8), metavar="1..7",
                    help="variants per image")
    ap.add_argument("--batch-size", type=int, default=16, help="objects per batch")
    ap.add_argument("--workers", type=int, default=0, help="pool threads (0: one a core)")
    ap.add_argument("--threads", type=int, default=0, help="kernel threads (0: all)")
    ap.add_argument("--no-check", dest="check", action="store_false",
                    help="turn the colour check off")
    ap.add_argument("--repeats", type=int, default=1, help="runs; the best one is reported")
    ap.add_argument("--profile", action="store_true",
                    help="print the seconds spent per pipeline stage")
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    rows = [bulk_images_per_second(args.backend, demo_image(), args.images, args.k,
                                   args.batch_size, args.check, args.workers, args.threads)
            for _ in range(args.repeats)]
    best = max(rows, key=lambda r: r["output_images_per_s"])
    print(json.dumps({k: v for k, v in best.items() if k != "stage_seconds"}))
    if args.repeats > 1:
        print("runs (output images/s):", [r["output_images_per_s"] for r in rows])
    if args.profile:
        print(profile_table(best))


if __name__ == "__main__":
    main()
