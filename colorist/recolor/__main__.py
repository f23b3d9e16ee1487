"""``python -m colorist.recolor``: recolour one object, or a whole JSONL of them.

Single object::

    python -m colorist.recolor IMAGE --mask MASK.png --from red --to blue green -o OUTDIR

Bulk (one object a line, see colorist/recolor/jobs.py); with no file, the demo bundled in
the package (coco-mini images and their COCO masks) into ./colorist-out::

    python -m colorist.recolor --batch [JOBS.jsonl] [--out DIR] [--backend cpu] [--preview]
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from colorist._native import BackendUnavailableError
from colorist.palette import UnknownColorError, load_palette
from colorist.recolor.backends import BACKENDS
from colorist.recolor.batch import BatchConfig, BatchSummary, run_batch
from colorist.recolor.jobs import Job, JobError, parse_job, read_jobs

DEMO = "demo"


def demo_jobs_path() -> Path:
    """The JSONL of the demo bundled inside the package."""
    return Path(str(resources.files("colorist") / "data" / "demo" / "jobs.jsonl"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m colorist.recolor",
        description="Recolour masked objects into palette colours (fused masked HSV/CIELAB).",
    )
    p.add_argument("image", nargs="?", type=Path, help="single mode: the image to recolour")
    p.add_argument("--mask", type=Path, help="single mode: mask PNG (pixels > 0 = object)")
    p.add_argument("--from", dest="source", help="single mode: the object's colour")
    p.add_argument("--to", dest="targets", nargs="+", help="target colours (default: all others)")
    p.add_argument("--batch", nargs="?", const=DEMO, metavar="JOBS.jsonl",
                   help="bulk mode: a JSONL of jobs; without a file, the bundled demo")
    p.add_argument("-o", "--out", type=Path, default=Path("colorist-out"), help="output folder")
    p.add_argument("--backend", default="auto", choices=["auto", *BACKENDS])
    p.add_argument("--workers", type=int, default=4, help="I/O threads (decode, encode, write)")
    p.add_argument("--threads", type=int, default=0, help="CPU backend threads (0: all)")
    p.add_argument("--batch-size", type=int, default=16, help="objects per backend call")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of the variants")
    p.add_argument("--format", dest="image_format", choices=["jpg", "png"], default="jpg")
    p.add_argument("--overwrite", action="store_true", help="redo objects already finished")
    p.add_argument("--preview", action="store_true", help="write a contact sheet per object")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the dominant-colour check of each variant")
    p.add_argument("--no-fit-source", dest="fit_source", action="store_false",
                   help="use the palette's source hue arc instead of fitting it per object")
    p.add_argument("--palette", type=Path, help="JSON file overriding palette colours")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _single_job(args: argparse.Namespace, palette) -> Job:
    if args.mask is None or args.source is None:
        raise JobError("single mode needs IMAGE, --mask and --from")
    record = {"image": str(args.image), "mask": str(args.mask), "source": args.source}
    if args.targets:
        record["targets"] = args.targets
    return parse_job(record, 0, Path.cwd(), palette)


def format_summary(summary: BatchSummary, out: Path) -> str:
    d = summary.to_dict()
    lines = [
        f"backend {d['backend']}: {d['done']} objects recoloured ({d['variants']} variants, "
        f"{d['variants_per_second']}/s), {d['resumed']} already done, {d['rejected']} rejected",
    ]
    if d["check_by_target"]:
        lines.append("dominant colour of the recoloured region == target:")
        for target, row in sorted(d["check_by_target"].items()):
            total = row["passed"] + row["failed"]
            rate = row["passed"] / total
            lines.append(f"  {target:<8} {row['passed']:>5}/{total:<5} {rate:6.1%}")
    for reason, n in sorted(d["reject_reasons"].items()):
        lines.append(f"  rejected ({reason}): {n}  -> see {out / 'rejects.jsonl'}")
    lines.append(f"outputs in {out}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        palette = load_palette(args.palette)
        if args.batch is not None:
            path = demo_jobs_path() if args.batch == DEMO else Path(args.batch)
            jobs, rejects = read_jobs(path, palette)
        elif args.image is not None:
            jobs, rejects = [_single_job(args, palette)], []
        else:
            build_parser().print_usage(sys.stderr)
            print("error: give IMAGE --mask M --from C, or --batch [JOBS.jsonl]", file=sys.stderr)
            return 2
        cfg = BatchConfig(
            out=args.out, backend=args.backend, workers=args.workers, threads=args.threads,
            batch_size=args.batch_size, quality=args.quality, image_format=args.image_format,
            overwrite=args.overwrite, preview=args.preview, check=args.check,
            fit_source=args.fit_source, progress=not args.quiet, palette=palette,
        )
        summary = run_batch(jobs, cfg, rejects)
    except (FileNotFoundError, JobError, UnknownColorError, BackendUnavailableError,
            ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_summary(summary, args.out))
    return 0 if summary.done + summary.resumed > 0 or not jobs else 1


if __name__ == "__main__":
    sys.exit(main())
