"""``python -m colorist.dataset``: mine captions, build the colour dataset, preview it.

    python -m colorist.dataset mine --captions C.json --instances I.json --out DIR
    python -m colorist.dataset build --captions C.json --instances I.json --images IMG --out DIR
    python -m colorist.dataset mine --standard S.json --out DIR   # the thesis' format
    python -m colorist.dataset preview DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorist.dataset.build import BuildConfig, build, format_summary, mine
from colorist.dataset.object_masks import MASK_SOURCE_NAMES
from colorist.dataset.preview import dataset_preview
from colorist.dataset.select import COMPLEMENTARY_COLORS, DEFAULT_COLORS
from colorist.recolor.backends import BACKENDS
from colorist.sources import SourceError, load_coco, load_standard


def _shard(text: str) -> tuple[int, int]:
    i, n = (int(x) for x in text.split("/"))
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= i < n")
    return i, n


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--captions", type=Path, help="COCO captions JSON")
    p.add_argument("--instances", type=Path, help="COCO instances JSON")
    p.add_argument("--standard", type=Path, help="the thesis' standard-format JSON/JSONL")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--colors", nargs="+", default=list(DEFAULT_COLORS))
    p.add_argument("--synonyms", type=Path, help="JSON {noun: category} added to the table")
    p.add_argument("--n-process", type=int, default=1,
                   help="spaCy worker processes for mining (2+ pays from a few thousand "
                        "captions)")
    p.add_argument("--quiet", action="store_true")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m colorist.dataset", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    _add_source_args(sub.add_parser("mine", help="select objects, write objects.jsonl"))
    b = sub.add_parser("build", help="mine + recolour + write the dataset")
    _add_source_args(b)
    b.add_argument("--images", type=Path, required=True, help="folder of the source images")
    b.add_argument("--split", type=float, default=0.8, help="train fraction (by image)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--limit", type=int)
    b.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: every n-th object")
    b.add_argument("--backend", default="auto", choices=["auto", *BACKENDS])
    b.add_argument("--mask-source", default="coco", choices=list(MASK_SOURCE_NAMES),
                   help="COCO polygons/RLE, or text-prompted masks from exported models")
    b.add_argument("--mask-models", type=Path,
                   help="folder written by python -m colorist.masks export")
    b.add_argument("--refine-color", action="store_true",
                   help="keep only the parts of each mask that have the stated colour")
    b.add_argument("--box-threshold", type=float, default=0.25, help="grounded-sam")
    b.add_argument("--text-threshold", type=float, default=0.25, help="grounded-sam")
    b.add_argument("--mask-threshold", type=float, default=0.5, help="clipseg")
    b.add_argument("--workers", type=int, default=4)
    v = sub.add_parser("preview", help="contact sheet PNG of a built dataset")
    v.add_argument("root", type=Path)
    v.add_argument("-o", "--output", type=Path)
    return ap


def _load(args, problems: list):
    if args.standard:
        return load_standard(args.standard, problems)
    if not (args.captions and args.instances):
        raise SourceError("give --captions and --instances (COCO), or --standard FILE")
    return load_coco(args.captions, args.instances, problems)


def _config(args) -> BuildConfig:
    synonyms = json.loads(args.synonyms.read_text()) if args.synonyms else {}
    colors = tuple(args.colors)
    cfg = BuildConfig(out=args.out, colors=colors, synonyms=synonyms, progress=not args.quiet,
                      n_process=args.n_process,
                      complementary=tuple(c for c in COMPLEMENTARY_COLORS if c not in colors))
    if args.command == "build":
        cfg.images, cfg.split, cfg.seed, cfg.limit = args.images, args.split, args.seed, args.limit
        cfg.shard, cfg.backend, cfg.mask_source = args.shard, args.backend, args.mask_source
        cfg.workers = args.workers
        cfg.mask_models, cfg.refine_color = args.mask_models, args.refine_color
        if args.mask_source == "grounded-sam":
            cfg.mask_options = {"box_threshold": args.box_threshold,
                                "text_threshold": args.text_threshold}
        elif args.mask_source == "clipseg":
            cfg.mask_options = {"threshold": args.mask_threshold}
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "preview":
            print(dataset_preview(args.root, args.output))
            return 0
        problems: list[dict] = []
        records, categories = _load(args, problems)
        for problem in problems:
            print(f"skipped: {problem['error']}", file=sys.stderr)
        cfg = _config(args)
        cfg.source_problems = problems
        if args.command == "mine":
            objects, rejected = mine(records, categories, cfg)
            print(f"{len(objects)} objects selected, {len(rejected)} mentions rejected -> "
                  f"{cfg.out / 'objects.jsonl'}")
            return 0
        print(format_summary(build(records, categories, cfg)))
        return 0
    except (SourceError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
