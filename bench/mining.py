"""Caption-mining throughput: captions/s of ``mine_captions`` at n_process = 1 and 2.

    python bench/mining.py                      # coco-mini captions, repeated to 20,000
    python bench/mining.py --captions C.json    # a real COCO captions file
    python bench/mining.py --n 50000 --batch-size 512

Throughput counts every caption handed in (as a user feeding COCO sees it), not only the
ones that name a colour; the share with a colour word is printed beside it. The captions
default to ../shared/data/coco-mini, else the copy shipped with the tests
(tests/data/coco-mini). Prints the table; ``--save`` also writes
bench/results/mining-<machine>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.captions import _color_word_pattern, load_spacy, mine_captions  # noqa: E402
from colorist.cli import HelpFormatter  # noqa: E402
from colorist.palette import DEFAULT_PALETTE  # noqa: E402

COCO_DIRS = (ROOT.parent / "shared/data/coco-mini", ROOT / "tests/data/coco-mini")
ANNOTATIONS = next((d / "annotations" for d in COCO_DIRS if d.is_dir()),
                   COCO_DIRS[-1] / "annotations")
DEFAULT_CAPTIONS = ANNOTATIONS / "captions_train2017.json"
DEFAULT_INSTANCES = ANNOTATIONS / "instances_train2017.json"


def load_captions(path: Path, n: int) -> list[str]:
    data = json.loads(path.read_text())
    texts = [a["caption"] for a in data["annotations"]]
    reps = -(-n // len(texts))
    return (texts * reps)[:n]


def measure(texts: list[str], categories: list[str], n_process: int, batch_size: int) -> float:
    nlp = load_spacy()
    mine_captions(texts[:200], categories, nlp=nlp, n_process=1)  # warm the model
    t0 = time.perf_counter()
    out = mine_captions(texts, categories, nlp=nlp, batch_size=batch_size,
                        n_process=n_process)
    dt = time.perf_counter() - t0
    assert len(out) == len(texts)
    return dt


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--captions", type=Path, default=DEFAULT_CAPTIONS, help="COCO captions JSON")
    p.add_argument("--instances", type=Path, default=DEFAULT_INSTANCES,
                   help="instances JSON (for the category names)")
    p.add_argument("--n", type=int, default=20000, help="captions to mine (repeats the file)")
    p.add_argument("--batch-size", type=int, default=256, help="spaCy nlp.pipe batch size")
    p.add_argument("--n-process", type=int, nargs="+", default=[1, 2],
                   help="worker process counts to measure")
    p.add_argument("--save", action="store_true",
                   help="write bench/results/mining-<machine>.json and .md (else only print)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results",
                   help="results folder used with --save")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)

    texts = load_captions(args.captions, args.n)
    categories = [c["name"] for c in json.loads(args.instances.read_text())["categories"]]
    share = sum(bool(_color_word_pattern(DEFAULT_PALETTE).search(t)) for t in texts) / len(texts)
    rows = []
    for n_process in args.n_process:
        dt = measure(texts, categories, n_process, args.batch_size)
        rows.append({"n_process": n_process, "captions": len(texts), "seconds": round(dt, 3),
                     "captions_per_s": round(len(texts) / dt, 1)})
        print(f"n_process={n_process}: {len(texts)} captions in {dt:.2f} s "
              f"= {len(texts) / dt:,.0f} captions/s")
    machine = f"{platform.machine()}-{os.cpu_count()}cpu"
    result = {"machine": machine, "captions_file": str(args.captions),
              "share_with_color_word": round(share, 4), "batch_size": args.batch_size,
              "rows": rows}
    md = [f"# Caption mining on {machine}", "",
          f"{len(texts)} captions from `{args.captions.name}`, {share:.1%} with a colour word, "
          f"batch_size {args.batch_size}.", "",
          "| n_process | captions/s | seconds |", "|---:|---:|---:|"]
    md += [f"| {r['n_process']} | {r['captions_per_s']:,.0f} | {r['seconds']} |" for r in rows]
    print("\n".join(md))
    if not args.save:
        print("not saved (pass --save to write bench/results/)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"mining-{machine}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"mining-{machine}.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
