"""``python -m colorist.dataset``: mine captions, build the colour dataset, preview it.

    python -m colorist.dataset mine --captions C.json --instances I.json --out DIR
    python -m colorist.dataset build --captions C.json --instances I.json --images IMG --out DIR
    python -m colorist.dataset mine --standard S.json --out DIR   # the thesis' format
    python -m colorist.dataset build ... --engine ray [--address auto]   # on Ray
    python -m colorist.dataset build ... --format wds   # + WebDataset .tar shards
    python -m colorist.dataset preview DIR

A rerun of ``build`` into the same --out resumes it; with other settings (colours, split,
seed, mask source) it is refused unless --rebuild, which moves the previous build to
OUT/replaced/<time>/ (nothing is deleted). Exit status: 0 done (bad items are listed in
OUT/rejects.jsonl), 1 outputs could not be written (disk full: rerun to finish), 2 usage
error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorist._native import describe_auto_choice
from colorist.cli import HelpFormatter, float_range, in_file, in_folder, int_range, out_folder
from colorist.dataset.build import BuildConfig, build, format_summary, mine
from colorist.dataset.object_masks import MASK_SOURCE_NAMES
from colorist.dataset.preview import dataset_preview
from colorist.dataset.ray_engine import RayConfig, build_ray
from colorist.dataset.schema import DatasetError
from colorist.dataset.select import COMPLEMENTARY_COLORS, DEFAULT_COLORS
from colorist.extras import run_with_extra
from colorist.io.images import MAX_PIXELS
from colorist.palette import DEFAULT_PALETTE, UnknownColorError
from colorist.recolor.backends import BACKENDS
from colorist.recolor.batch import MAX_WORKERS
from colorist.sources import SourceError, load_coco, load_standard


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"{text}: need 0 <= i < n")
    return i, n


def _color(text: str) -> str:
    try:
        return DEFAULT_PALETTE.canonical(text)
    except UnknownColorError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a palette colour (choose from "
                                         f"{', '.join(DEFAULT_PALETTE.names)})") from None


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--captions", type=in_file, help="COCO captions JSON")
    p.add_argument("--instances", type=in_file, help="COCO instances JSON")
    p.add_argument("--standard", type=in_file, help="the thesis' standard-format JSON/JSONL")
    p.add_argument("--out", type=out_folder, required=True, help="output folder")
    p.add_argument("--colors", nargs="+", type=_color, default=list(DEFAULT_COLORS),
                   help="training colours (default: %(default)s)")
    p.add_argument("--synonyms", type=in_file, help="JSON {noun: category} added to the table")
    p.add_argument("--n-process", type=int_range(1, 64), default=1,
                   help="spaCy worker processes for mining (2+ pays from a few thousand "
                        "captions; default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m colorist.dataset", description=__doc__,
                                 formatter_class=HelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    _add_source_args(sub.add_parser("mine", help="select objects, write objects.jsonl",
                                    formatter_class=HelpFormatter))
    b = sub.add_parser("build", help="mine + recolour + write the dataset",
                       formatter_class=HelpFormatter)
    _add_source_args(b)
    b.add_argument("--images", type=in_folder, required=True,
                   help="folder of the source images (file names may not leave it)")
    b.add_argument("--split", type=float_range(0.0, 1.0), default=0.8,
                   help="train fraction, by image (default: %(default)s)")
    b.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0,
                   help="seed of the split (default: %(default)s)")
    b.add_argument("--limit", type=int_range(0), help="build at most this many objects")
    b.add_argument("--shard", type=_shard, default=(0, 1),
                   help="i/n: every n-th object from the i-th (default: 0/1)")
    b.add_argument("--backend", default="auto", choices=["auto", *BACKENDS],
                   help="recolouring backend (default: %(default)s)")
    b.add_argument("--mask-source", default="coco", choices=list(MASK_SOURCE_NAMES),
                   help="COCO polygons/RLE, or text-prompted masks from exported models "
                        "(default: %(default)s)")
    b.add_argument("--mask-models", type=Path,
                   help="folder written by python -m colorist.masks export")
    b.add_argument("--refine-color", action="store_true",
                   help="keep only the parts of each mask that have the stated colour")
    b.add_argument("--box-threshold", type=float_range(0.0, 1.0), default=0.25,
                   help="grounded-sam (default: %(default)s)")
    b.add_argument("--text-threshold", type=float_range(0.0, 1.0), default=0.25,
                   help="grounded-sam (default: %(default)s)")
    b.add_argument("--mask-threshold", type=float_range(0.0, 1.0), default=0.5,
                   help="clipseg (default: %(default)s)")
    b.add_argument("--workers", type=int_range(1, MAX_WORKERS), default=4,
                   help="I/O threads (default: %(default)s)")
    b.add_argument("--max-pixels", type=int_range(1), default=MAX_PIXELS,
                   help="images with more pixels are rejected undecoded (default: %(default)s)")
    b.add_argument("--format", choices=["folder", "wds"], default="folder",
                   help="folder: images/{split}/ + metadata.jsonl; wds: that plus WebDataset "
                        ".tar shards in OUT/wds/ (default: %(default)s)")
    b.add_argument("--shard-size", type=int_range(1), default=128,
                   help="objects per shard (a Ray task, a resume unit, a .tar shard; "
                        "default: %(default)s)")
    _add_ray_args(b)
    b.add_argument("--rebuild", action="store_true",
                   help="OUT was built with other settings: move that build to "
                        "OUT/replaced/<time>/ and build again")
    v = sub.add_parser("preview", help="contact sheet PNG of a built dataset",
                       formatter_class=HelpFormatter)
    v.add_argument("root", type=in_folder, help="a built dataset folder")
    v.add_argument("-o", "--output", type=Path, help="PNG to write (default: ROOT/preview.png)")
    return ap


def _add_ray_args(b: argparse.ArgumentParser) -> None:
    d = RayConfig()
    b.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process; ray: Ray Data over a local Ray or a cluster "
                        "(same output files; default: %(default)s)")
    b.add_argument("--address",
                   help="ray: a cluster to join ('auto' or HOST:PORT); default: start a "
                        "local Ray of --num-cpus CPUs")
    b.add_argument("--num-cpus", type=int_range(1, 4096), default=d.num_cpus,
                   help="ray: CPUs of the local Ray (default: %(default)s)")
    b.add_argument("--ray-workers", type=int_range(1, 4096), default=d.workers,
                   help="ray: recolouring actors (default: %(default)s)")
    b.add_argument("--gpus-per-worker", type=float_range(0.0, 8.0), default=0.0,
                   help="ray: GPUs each recolouring actor holds; 0: CPU actors "
                        "(default: %(default)s)")
    b.add_argument("--mask-workers", type=int_range(1, 4096), default=d.mask_workers,
                   help="ray: mask actors, each opens its ONNX sessions once "
                        "(default: %(default)s)")
    b.add_argument("--mine-batch", type=int_range(1), default=d.mine_batch,
                   help="ray: source records per mining task (default: %(default)s)")


def _ray_config(args) -> RayConfig:
    return RayConfig(address=args.address, num_cpus=args.num_cpus, workers=args.ray_workers,
                     gpus_per_worker=args.gpus_per_worker, mask_workers=args.mask_workers,
                     mine_batch=args.mine_batch)


def _load(args, problems: list):
    if args.standard:
        return load_standard(args.standard, problems)
    if not (args.captions and args.instances):
        raise SourceError("give --captions and --instances (COCO), or --standard FILE")
    return load_coco(args.captions, args.instances, problems)


def _synonyms(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SourceError(f"{path}: cannot read the synonyms ({e})") from None
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in table.items()):
        raise SourceError(f"{path}: synonyms must be a JSON object of noun: category strings")
    return table


def _config(args) -> BuildConfig:
    synonyms = _synonyms(args.synonyms)
    colors = tuple(dict.fromkeys(args.colors))
    cfg = BuildConfig(out=args.out, colors=colors, synonyms=synonyms, progress=not args.quiet,
                      n_process=args.n_process,
                      complementary=tuple(c for c in COMPLEMENTARY_COLORS if c not in colors))
    if args.command == "build":
        cfg.images, cfg.split, cfg.seed, cfg.limit = args.images, args.split, args.seed, args.limit
        cfg.shard, cfg.backend, cfg.mask_source = args.shard, args.backend, args.mask_source
        cfg.workers, cfg.max_pixels, cfg.rebuild = args.workers, args.max_pixels, args.rebuild
        cfg.mask_models, cfg.refine_color = args.mask_models, args.refine_color
        cfg.format, cfg.shard_size = args.format, args.shard_size
        if args.mask_source == "grounded-sam":
            cfg.mask_options = {"box_threshold": args.box_threshold,
                                "text_threshold": args.text_threshold}
        elif args.mask_source == "clipseg":
            cfg.mask_options = {"threshold": args.mask_threshold}
    return cfg


def _run(args) -> int:
    if args.command == "preview":
        print(dataset_preview(args.root, args.output))
        return 0
    problems: list = []
    records, categories = _load(args, problems)
    for problem in problems:
        print(f"skipped: {problem.error}", file=sys.stderr)
    cfg = _config(args)
    cfg.source_problems = problems
    if args.command == "mine":
        objects, rejected = mine(records, categories, cfg)
        print(f"{len(objects)} objects selected, {len(rejected)} mentions rejected -> "
              f"{cfg.out / 'objects.jsonl'}")
        return 0
    if cfg.backend == "auto":
        print(describe_auto_choice(), file=sys.stderr)
    if args.engine == "ray":
        summary = build_ray(records, categories, cfg, _ray_config(args))
    else:
        summary = build(records, categories, cfg)
    print(format_summary(summary))
    return _report_write_errors(summary)


def _report_write_errors(summary: dict) -> int:
    """Print what could not be written (disk full); 1 when anything was not."""
    if summary.get("write_failed"):
        print(f"error: {summary['write_failed']} object(s) could not be written (disk full "
              "or no permission?); free space and rerun to finish them", file=sys.stderr)
    if summary.get("write_error"):
        print(f"error: {summary['write_error']}", file=sys.stderr)
    return 1 if summary.get("write_failed") or summary.get("write_error") else 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error
        return int(e.code or 0)
    try:
        return run_with_extra(f"dataset {args.command}", ("nlp", "masks"), lambda: _run(args))
    except (SourceError, DatasetError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the output folder became unwritable (disk full)
        print(f"error: {e}; free space and rerun to finish", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
