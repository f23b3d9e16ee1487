"""``python -m colorist.recolor``: recolour one object, or a whole JSONL of them.

Single object::

    python -m colorist.recolor IMAGE --mask MASK.png --from red --to blue green -o OUTDIR

Bulk (one object a line, see colorist/recolor/jobs.py); with no file, the demo bundled in
the package (coco-mini images and their COCO masks) into ./colorist-out::

    python -m colorist.recolor --batch [JOBS.jsonl] [--out DIR] [--backend cpu] [--preview]

Exit status: 0 when every object is done (or skipped as a bad item, listed in
OUT/rejects.jsonl); 1 when no object could be done, or outputs could not be written (disk
full: rerun to finish); 2 for a usage error (bad flag, missing job file, an output folder
made with other settings).
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from colorist._native import MAX_THREADS, BackendUnavailableError, describe_auto_choice
from colorist.cli import HelpFormatter, in_file, int_range, out_folder
from colorist.io.images import MAX_PIXELS
from colorist.palette import UnknownColorError, load_palette
from colorist.recolor.backends import BACKENDS
from colorist.recolor.batch import MAX_BATCH, MAX_WORKERS, BatchConfig, BatchSummary, run_batch
from colorist.recolor.jobs import Job, JobError, read_jobs, single_job

DEMO = "demo"


def demo_jobs_path() -> Path:
    """The JSONL of the demo bundled inside the package."""
    return Path(str(resources.files("colorist") / "data" / "demo" / "jobs.jsonl"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m colorist.recolor",
        description="Recolour masked objects into palette colours (fused masked HSV/CIELAB).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("image", nargs="?", type=in_file, help="single mode: the image to recolour")
    p.add_argument("--mask", type=in_file, help="single mode: mask PNG (pixels > 0 = object)")
    p.add_argument("--from", dest="source", help="single mode: the object's colour")
    p.add_argument("--to", dest="targets", nargs="+", help="target colours (default: all others)")
    p.add_argument("--batch", nargs="?", const=DEMO, metavar="JOBS.jsonl",
                   help="bulk mode: a JSONL of jobs; without a file, the bundled demo")
    p.add_argument("--root", type=Path, metavar="DIR",
                   help="bulk mode: the folder the jobs' paths are relative to and may not "
                        "leave (default: the job file's folder)")
    p.add_argument("-o", "--out", type=out_folder, default=Path("colorist-out"),
                   help="output folder (default: %(default)s)")
    p.add_argument("--backend", default="auto", choices=["auto", *BACKENDS],
                   help="recolouring backend (default: %(default)s, the fastest here)")
    p.add_argument("--workers", type=int_range(1, MAX_WORKERS), default=4,
                   help="I/O threads: decode, encode, write (default: %(default)s)")
    p.add_argument("--threads", type=int_range(0, MAX_THREADS), default=0,
                   help="CPU backend threads, 0 for all cores (default: %(default)s)")
    p.add_argument("--batch-size", type=int_range(1, MAX_BATCH), default=16,
                   help="objects per backend call (default: %(default)s)")
    p.add_argument("--quality", type=int_range(1, 100), default=95,
                   help="JPEG quality of the variants (default: %(default)s)")
    p.add_argument("--format", dest="image_format", choices=["jpg", "png"], default="jpg",
                   help="variant file format (default: %(default)s)")
    p.add_argument("--max-pixels", type=int_range(1), default=MAX_PIXELS,
                   help="images with more pixels are rejected undecoded (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="redo objects already finished (also: accept new output settings)")
    p.add_argument("--preview", action="store_true", help="write a contact sheet per object")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the quality check of each variant (people's colour names: "
                        "colorist.quality)")
    p.add_argument("--no-fit-source", dest="fit_source", action="store_false",
                   help="use the palette's source hue arc instead of fitting it per object")
    p.add_argument("--palette", type=Path, help="JSON file overriding palette colours and "
                   "thresholds (format: docs/palette-format.md; default: the built-in palette)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _single_job(args: argparse.Namespace, palette) -> Job:
    if args.mask is None or args.source is None:
        raise JobError("single mode needs IMAGE, --mask and --from")
    return single_job(args.image, args.mask, args.source, args.targets, palette)


def format_summary(summary: BatchSummary, out: Path) -> str:
    d = summary.to_dict()
    lines = [
        f"backend {d['backend']}: {d['done']} objects recoloured ({d['variants']} variants, "
        f"{d['variants_per_second']}/s), {d['resumed']} already done, {d['rejected']} rejected",
    ]
    if d["check_by_target"]:
        lines.append("quality check (body named as the target by people's colour names, "
                     "chroma noise <= 1.5x, other parts kept):")
        lines.append(f"  {'target':<8} {'good':>11} {'hit':>6} {'noise':>6} {'collat.':>8}")
        for target, row in sorted(d["check_by_target"].items()):
            total = row["passed"] + row["failed"]
            figures = " ".join(f"{row[k]:>{w}.{p}f}" if k in row else " " * w for k, w, p in
                               (("hit", 6, 2), ("chroma_noise", 6, 2), ("collateral", 8, 3)))
            lines.append(f"  {target:<8} {row['passed']:>5}/{total:<5} {figures} "
                         f"{row['passed'] / total:6.1%}")
    for reason, n in sorted(d["reject_reasons"].items()):
        lines.append(f"  rejected ({reason}): {n}  -> see {out / 'rejects.jsonl'}")
    lines.append(f"outputs in {out}")
    return "\n".join(lines)


def warn_if_source_looks_different(job: Job, palette) -> str | None:
    """A warning when the masked region is clearly not the ``--from`` colour (not refused)."""
    from colorist.io import read_image, read_mask_png
    from colorist.recolor.source_check import source_mismatch

    try:
        image = read_image(job.image)
        seen = source_mismatch(image, read_mask_png(job.mask, image.shape[:2]), job.source,
                               palette)
    except (OSError, ValueError):  # the batch rejects it with the reason
        return None
    return (f"warning: --from {job.source}, but the masked region looks {seen}; check "
            "--from (the object's colour) and the mask") if seen else None


def _jobs(args: argparse.Namespace, palette) -> tuple[list[Job], list]:
    if args.batch is not None:
        path = demo_jobs_path() if args.batch == DEMO else Path(args.batch)
        return read_jobs(path, palette, args.root)
    if args.image is not None:
        return [_single_job(args, palette)], []
    raise JobError("give IMAGE --mask M --from C, or --batch [JOBS.jsonl]")


def _config(args: argparse.Namespace, palette) -> BatchConfig:
    return BatchConfig(
        out=args.out, backend=args.backend, workers=args.workers, threads=args.threads,
        batch_size=args.batch_size, quality=args.quality, image_format=args.image_format,
        overwrite=args.overwrite, preview=args.preview, check=args.check,
        fit_source=args.fit_source, progress=not args.quiet, palette=palette,
        max_pixels=args.max_pixels,
    )


def _exit_status(summary: BatchSummary, n_jobs: int) -> int:
    """Print what could not be written; 1 when the run is incomplete for that reason or
    nothing could be done."""
    if summary.write_failed:
        print(f"error: {summary.write_failed} object(s) could not be written (disk full or "
              "no permission? see rejects.jsonl); free space and rerun to finish them",
              file=sys.stderr)
    if summary.run_files_error:
        print(f"error: {summary.run_files_error}", file=sys.stderr)
    if summary.write_failed or summary.run_files_error:
        return 1
    return 0 if summary.done + summary.resumed > 0 or not n_jobs else 1


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error
        return int(e.code or 0)
    try:
        palette = load_palette(args.palette)
        jobs, rejects = _jobs(args, palette)
        if args.batch is None and jobs and (warning := warn_if_source_looks_different(
                jobs[0], palette)):
            print(warning, file=sys.stderr)
        if args.backend == "auto":
            print(describe_auto_choice(), file=sys.stderr)
        summary = run_batch(jobs, _config(args, palette), rejects)
    except (FileNotFoundError, UnknownColorError, BackendUnavailableError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the output folder itself became unwritable
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(format_summary(summary, args.out))
    return _exit_status(summary, len(jobs))


if __name__ == "__main__":
    sys.exit(main())
