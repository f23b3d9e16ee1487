"""End-to-end bulk recolouring: ``run_batch`` (what ``python -m colorist.recolor --batch``
runs) over generated 640x480 JPEGs, K variants each; output images per second."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from colorist.recolor.batch import BatchConfig, run_batch
from colorist.recolor.jobs import read_jobs

TARGETS_7 = ["orange", "yellow", "green", "cyan", "blue", "purple", "pink"]


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
                           batch_size: int = 64, check: bool = True) -> dict:
    """Run the bulk job once (after a small warm-up run) and report its throughput."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        jobs, rejects = read_jobs(_write_inputs(root, image, n_images, k))
        workers = os.cpu_count() or 2
        warm = BatchConfig(out=root / "warm", backend=backend, batch_size=batch_size,
                           workers=workers, progress=False, check=check)
        run_batch(jobs[: min(len(jobs), batch_size)], warm, rejects)
        cfg = BatchConfig(out=root / "out", backend=backend, batch_size=batch_size,
                          workers=workers, progress=False, check=check)
        summary = run_batch(jobs, cfg, rejects)
    return {"backend": summary.backend, "images_in": n_images, "k": k,
            "output_images": summary.variants, "seconds": round(summary.seconds, 3),
            "output_images_per_s": round(summary.variants / summary.seconds, 1),
            "rejected": summary.rejected, "check": check, "batch_size": batch_size,
            "workers": workers}
