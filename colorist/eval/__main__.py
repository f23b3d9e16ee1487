"""``python -m colorist.eval``: colour evaluation of one or more models side by side.

    python -m colorist.eval color --model openai/clip-vit-base-patch32 --model run/merged \\
        --data ds --out eval [--flickr-dir Flickr8k]
    python -m colorist.eval flickr --model M --annotations ExpertAnnotations.txt \\
        --captions Flickr8k.token.txt --images Flicker8k_Dataset --out eval
    python -m colorist.eval probes --model M [--model M2] --out probes  # colorist.probes

``color`` runs the 8-way colour choice on the validation originals (``--images``: or on the
recolours, or all) and the 4-way complementary task (when the dataset has that split), and
writes OUT/report.json (per model: accuracy, mean_diff, std_diff, per_color_accuracy,
Recall@K / MRR both ways, bootstrap intervals, paired comparisons with every other model,
complementary, flickr), OUT/report.md, a confusion-matrix PNG per model and task and a
per-colour bar chart per task. A model name may end in @itm / @itc (BLIP) or @sigmoid /
@cosine (SigLIP) to pick the score. Needs the 'train' extra:
pip install 'colorist[train]'.

A model that cannot be loaded is skipped with a message naming it on stderr and listed in
OUT/rejects.jsonl (reason ``model-unloadable``); the others finish. Exit status: 0 when at
least one model was evaluated, 1 when no model could be, 2 for a usage or data error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorist.cli import HelpFormatter
from colorist.extras import run_with_extra
from colorist.probes.cli import NoModelEvaluated, finish_models, load_or_reject
from colorist.probes.cli import add_parser as add_probes_parser
from colorist.rejects import Reject

SKIP_HELP = """\
A model that cannot be loaded (no such folder or hub id, no config.json, an unknown model
type, a checkpoint the scorer refuses) is skipped with a message naming it on stderr and
listed in OUT/rejects.jsonl (reason model-unloadable); the other models finish.

Exit status: 0 when at least one model was evaluated, 1 when no model could be (the report
in OUT is then left as it was), 2 for a usage or data error (bad dataset, Flickr files)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m colorist.eval", description=__doc__,
                                formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("color", help="colour choice (+ complementary, + Flickr8k-Expert)",
                       description=SKIP_HELP, formatter_class=HelpFormatter)
    c.add_argument("--model", action="append", required=True,
                   help="hub id, save_pretrained folder or open_clip name; repeat for several")
    c.add_argument("--data", type=Path, required=True, help="a built dataset folder")
    c.add_argument("--split", default="val", help="the dataset split of the colour choice")
    c.add_argument("--images", choices=("originals", "recolours", "all"), default="originals",
                   help="which images of each group the colour choice runs on")
    c.add_argument("--flickr-dir", type=Path, help="folder with ExpertAnnotations.txt, "
                   "Flickr8k.token.txt and the images (Flicker8k_Dataset/ or images/)")
    c.add_argument("--out", type=Path, required=True, help="report folder")
    c.add_argument("--device", help="torch device (default: cuda if present, else cpu)")
    f = sub.add_parser("flickr", help="Flickr8k-Expert correlation only",
                       description=SKIP_HELP, formatter_class=HelpFormatter)
    f.add_argument("--model", action="append", required=True,
                   help="hub id, save_pretrained folder or open_clip name; repeat for several")
    f.add_argument("--annotations", type=Path, required=True, help="ExpertAnnotations.txt")
    f.add_argument("--captions", type=Path, required=True, help="Flickr8k.token.txt")
    f.add_argument("--images", type=Path, required=True, help="folder of the Flickr8k images")
    f.add_argument("--out", type=Path, required=True, help="report folder")
    f.add_argument("--device", help="torch device (default: cuda if present, else cpu)")
    add_probes_parser(sub)
    return p


def _flickr_files(folder: Path) -> tuple[Path, Path, Path]:
    images = next((folder / d for d in ("Flicker8k_Dataset", "Flickr8k_Dataset", "images")
                   if (folder / d).is_dir()), folder)
    return folder / "ExpertAnnotations.txt", folder / "Flickr8k.token.txt", images


def evaluate(scorer, data: Path, split: str = "val", flickr_dir: Path | None = None,
             images: str = "originals") -> dict:
    """One model's results: ``color`` (on ``split``, the groups' ``images``),
    ``complementary`` (when the dataset has that split) and ``flickr`` (when ``flickr_dir``
    is given)."""
    from colorist.dataset.bank import GroupBank
    from colorist.dataset.schema import DatasetError, load_groups
    from colorist.eval.color import color_choice_scorer
    from colorist.eval.flickr import flickr_expert

    r: dict = {}
    for task, name in (("color", split), ("complementary", "complementary")):
        try:
            groups = load_groups(data, name)
        except DatasetError:
            if task == "color":
                raise
            continue
        # each model preprocesses with its own pipeline (sizes and stats differ)
        r[task] = color_choice_scorer(scorer, GroupBank.build(scorer, groups), images=images)
    if flickr_dir:
        r["flickr"] = flickr_expert(scorer, *_flickr_files(flickr_dir))
    return r


def run(args) -> Path:
    if args.command == "probes":
        from colorist.probes.cli import run as run_probes_cli

        return run_probes_cli(args)
    from colorist.eval.flickr import flickr_expert
    from colorist.eval.report import _rejects_lines, write_report

    results: dict[str, dict] = {}
    rejects: list[Reject] = []
    for name in dict.fromkeys(args.model):
        scorer = load_or_reject(name, args.device, rejects)
        if scorer is None:
            continue
        if args.command == "color":
            results[name] = evaluate(scorer, args.data, args.split, args.flickr_dir,
                                     args.images)
        else:
            results[name] = {"flickr": flickr_expert(scorer, args.annotations, args.captions,
                                                     args.images)}
    if not results:  # raises NoModelEvaluated: rejects.jsonl only, the old report stays
        finish_models(args.out, args.model, results, rejects)
    path = write_report(args.out, results)
    # rejects.jsonl: the skipped models, then the skipped items (as write_report wrote them)
    finish_models(args.out, args.model, results, rejects,
                  [json.loads(line) for line in _rejects_lines(results)])
    return path


def _main(args) -> int:
    from colorist.dataset.schema import DatasetError
    from colorist.eval.flickr import FlickrFormatError

    try:
        path = run(args)
    except NoModelEvaluated as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (DatasetError, FlickrFormatError, FileNotFoundError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run_with_extra("eval", "train", lambda: _main(args))


if __name__ == "__main__":
    sys.exit(main())
