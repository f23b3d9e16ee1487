"""``python -m colorist.eval``: colour evaluation of one or more models side by side.

    python -m colorist.eval color --model openai/clip-vit-base-patch32 --model run/merged \\
        --data ds --out eval [--flickr-dir Flickr8k]
    python -m colorist.eval flickr --model M --annotations ExpertAnnotations.txt \\
        --captions Flickr8k.token.txt --images Flicker8k_Dataset --out eval

``color`` runs the 8-way colour choice on the validation originals and the 4-way
complementary task (when the dataset has that split), and writes OUT/report.json (per
model: accuracy, mean_diff, std_diff, per_color_accuracy, complementary, flickr),
OUT/report.md and a confusion-matrix PNG per model and task.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from colorist.dataset.bank import GroupBank
from colorist.dataset.schema import DatasetError, load_groups
from colorist.eval.color import color_choice_scorer
from colorist.eval.flickr import FlickrFormatError, flickr_expert
from colorist.eval.report import write_report
from colorist.models import load_scorer


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m colorist.eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("color", help="colour choice (+ complementary, + Flickr8k-Expert)")
    c.add_argument("--model", action="append", required=True, help="repeat for several")
    c.add_argument("--data", type=Path, required=True)
    c.add_argument("--split", default="val")
    c.add_argument("--flickr-dir", type=Path, help="folder with ExpertAnnotations.txt, "
                   "Flickr8k.token.txt and the images (Flicker8k_Dataset/ or images/)")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--device")
    f = sub.add_parser("flickr", help="Flickr8k-Expert correlation only")
    f.add_argument("--model", action="append", required=True)
    f.add_argument("--annotations", type=Path, required=True)
    f.add_argument("--captions", type=Path, required=True)
    f.add_argument("--images", type=Path, required=True)
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--device")
    return p


def _flickr_files(folder: Path) -> tuple[Path, Path, Path]:
    images = next((folder / d for d in ("Flicker8k_Dataset", "Flickr8k_Dataset", "images")
                   if (folder / d).is_dir()), folder)
    return folder / "ExpertAnnotations.txt", folder / "Flickr8k.token.txt", images


def run(args) -> Path:
    results: dict[str, dict] = {}
    for name in args.model:
        scorer = load_scorer(name, device=args.device)
        r: dict = {}
        if args.command == "color":
            for task, split in (("color", args.split), ("complementary", "complementary")):
                try:
                    groups = load_groups(args.data, split)
                except DatasetError:
                    if task == "color":
                        raise
                    continue
                # each model preprocesses with its own pipeline (sizes and stats differ)
                r[task] = color_choice_scorer(scorer, GroupBank.build(scorer, groups))
            if args.flickr_dir:
                r["flickr"] = flickr_expert(scorer, *_flickr_files(args.flickr_dir))
        else:
            r["flickr"] = flickr_expert(scorer, args.annotations, args.captions, args.images)
        results[name] = r
    return write_report(args.out, results)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        path = run(args)
    except (DatasetError, FlickrFormatError, FileNotFoundError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
