"""Recolouring microbenchmarks: every available backend side by side in one run.

    python bench/run.py            # full CPU grid: 640x480 and 1920x1080, K=1 and 7, 1-2 threads
    python bench/run.py --quick    # a smaller grid, fewer repeats

Reports, per (backend, size, K, threads): median time, Mpx/s (input pixels), GB/s from the
bytes a fused kernel must move (3 read + 1 mask + 3K written per pixel) and the speed-up
over `reference` at the same thread count. Writes bench/results/<device>.json and .md.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.palette import DEFAULT_PALETTE  # noqa: E402
from colorist.recolor.backends import available_backends, get_backend  # noqa: E402
from colorist.recolor.plan import plan_batch  # noqa: E402

SOURCE = "red"
TARGETS_7 = ["orange", "yellow", "green", "cyan", "blue", "purple", "pink"]
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
    speedup_vs_reference: float | None = None


def make_input(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A real photo (the demo stop sign) resized, with an elliptic mask over ~40% of it."""
    demo = ROOT / "colorist" / "data" / "demo" / "images" / "000000525891.jpg"
    bgr = cv2.imread(str(demo))
    image = cv2.cvtColor(cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR),
                         cv2.COLOR_BGR2RGB)
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.36), int(h * 0.36)), 0, 0, 360, 1, -1)
    return image, mask


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up (first-call allocation, thread pool start)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def bench_one(name: str, image, mask, k: int, threads: int, repeats: int) -> Row:
    impl = get_backend(name)
    params = plan_batch([SOURCE], [TARGETS_7[:k]], DEFAULT_PALETTE)
    cv2.setNumThreads(threads)  # the reference's OpenCV calls use the same thread count
    ms = median_ms(lambda: impl.run([image], [mask], params, threads), repeats)
    px = image.shape[0] * image.shape[1]
    moved = px * (3 + 1 + 3 * k)
    return Row(name, f"{image.shape[1]}x{image.shape[0]}", k, threads, round(ms, 3),
               round(px / ms / 1e3, 1), round(moved / ms / 1e6, 3))


def run(quick: bool) -> list[Row]:
    backends = [b for b in ("reference", "cpu") if b in available_backends()]
    sizes = {"640x480": SIZES["640x480"]} if quick else SIZES
    rows = []
    for h, w in sizes.values():
        image, mask = make_input(h, w)
        for k in (1, 7):
            for threads in (1, 2):
                ref = None
                for name in backends:
                    row = bench_one(name, image, mask, k, threads, 3 if quick else 7)
                    ref = row.ms if name == "reference" else ref
                    row.speedup_vs_reference = round(ref / row.ms, 2) if ref else None
                    rows.append(row)
                    print(f"{row.backend:>10} {row.size:>10} K={k} threads={threads}: "
                          f"{row.ms:9.2f} ms {row.mpx_per_s:8.1f} Mpx/s {row.gb_per_s:7.3f} GB/s"
                          f"  x{row.speedup_vs_reference}", flush=True)
    return rows


def markdown(rows: list[Row]) -> str:
    head = "| backend | size | K | threads | ms | Mpx/s | GB/s | vs reference |\n"
    head += "|---|---|---|---|---|---|---|---|\n"
    return head + "".join(
        f"| {r.backend} | {r.size} | {r.k} | {r.threads} | {r.ms} | {r.mpx_per_s} | "
        f"{r.gb_per_s} | {r.speedup_vs_reference}x |\n" for r in rows
    )


def device_name() -> str:
    cpu = platform.processor() or platform.machine()
    return f"cpu-{cpu}".replace(" ", "_").replace("/", "_")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grid for CPU-only smoke runs")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    rows = run(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    name = device_name()
    meta = {"device": name, "python": platform.python_version(), "opencv": cv2.__version__,
            "quick": args.quick, "source": SOURCE, "targets": TARGETS_7}
    (args.out / f"{name}.json").write_text(
        json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(markdown(rows))
    print("\n" + markdown(rows))
    print(f"saved {args.out / (name + '.json')}")


if __name__ == "__main__":
    main()
