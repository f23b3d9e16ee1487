"""``python -m colorist.colorize train|predict|eval``: Zhang et al. 2016 colourisation.

    python -m colorist.colorize train --images coco/train2017 --out run
    python -m colorist.colorize predict --model run/model.safetensors --images photos \\
        --out coloured --sheet sheet.jpg
    python -m colorist.colorize eval --model run/model.safetensors --images coco/train2017 \\
        --split heldout --report report.json

``--model`` also takes the official ``colorization_release_v2-9b330a0b.pth`` (by path).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from colorist.cli import HelpFormatter, float_range, in_file, in_folder, int_range, out_folder
from colorist.colorize.decode import DEFAULT_T
from colorist.colorize.model import MODELS
from colorist.colorize.train import ColorizeTrainConfig

D = ColorizeTrainConfig("", "")  # the defaults


def side8(text: str) -> int:
    """An argparse type: a side in pixels, a positive multiple of 8 (the network's stride)."""
    value = int_range(8)(text)
    if value % 8:
        raise argparse.ArgumentTypeError(f"{value} is not a multiple of 8")
    return value


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", type=in_folder, required=True,
                   help="folder of images (searched recursively; with --coco-json: the "
                        "folder its file_name entries are relative to)")
    p.add_argument("--coco-json", type=in_file, default=None,
                   help="COCO annotation file: use the images it lists (default: every image "
                        "under --images)")
    p.add_argument("--val-fraction", type=float_range(0, 0.99), default=D.val_fraction,
                   help="share of the images held out from training (seeded shuffle)")
    p.add_argument("--seed", type=int_range(0), default=D.seed, help="split and crop seed")


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a colouriser", formatter_class=HelpFormatter)
    _data_args(p)
    p.add_argument("--out", type=out_folder, required=True,
                   help="run folder (model, checkpoint, prior, log; a rerun resumes)")
    p.add_argument("--model", choices=list(MODELS), default=D.model,
                   help="architecture (eccv16-w4/-w8: all widths / 4 or / 8, for CPU runs)")
    p.add_argument("--steps", type=int_range(1), default=D.steps, help="optimiser steps")
    p.add_argument("--batch-size", type=int_range(1), default=D.batch_size, help="crops a step")
    p.add_argument("--crop", type=side8, default=D.crop,
                   help="training crop side (a multiple of 8)")
    p.add_argument("--resize", type=int_range(8), default=D.resize,
                   help="short side the images are scaled to before cropping")
    p.add_argument("--lr", type=float_range(1e-8, 1.0), default=D.lr, help="AdamW learning rate")
    p.add_argument("--k", type=int_range(1, 32), default=D.k,
                   help="nearest bins of each soft target")
    p.add_argument("--sigma", type=float_range(0.1, 100), default=D.sigma,
                   help="Gaussian width of the soft encoding (ab units; the release uses 10)")
    p.add_argument("--lam", type=float_range(0, 1), default=D.lam,
                   help="rebalancing mix of the prior with the uniform distribution")
    p.add_argument("--no-rebalance", action="store_true", help="plain cross-entropy")
    p.add_argument("--prior-images", type=int_range(1), default=D.prior_images,
                   help="training images the ab prior is counted over")
    p.add_argument("--workers", type=int_range(0), default=D.workers, help="loader processes")
    p.add_argument("--cache", action="store_true",
                   help="keep the resized images in memory (small datasets, CPU runs)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    p.add_argument("--compile", choices=["auto", "on", "off"], default=D.compile,
                   help="torch.compile the network (auto: on CUDA)")
    p.add_argument("--no-bf16", action="store_true", help="fp32 on CUDA too")
    p.add_argument("--checkpoint-every", type=int_range(1), default=D.checkpoint_every,
                   help="steps between checkpoints (and log lines)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=in_file, required=True,
                   help="model.safetensors from train, or the official .pth")
    p.add_argument("--size", type=side8, default=256,
                   help="network input side (a multiple of 8)")
    p.add_argument("--device", default="cpu", help="torch device")


def _predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="colourise images", formatter_class=HelpFormatter)
    _model_args(p)
    p.add_argument("--images", type=in_folder, required=True, help="folder of images")
    p.add_argument("--out", type=out_folder, required=True,
                   help="output folder (existing outputs are kept and skipped)")
    p.add_argument("--temperatures", type=float_range(0, 10), nargs="+", default=[DEFAULT_T],
                   help="annealed-mean temperatures (0: the mode, 1: the mean)")
    p.add_argument("--sheet", type=Path, default=None,
                   help="also write a contact sheet of the first --sheet-images images here")
    p.add_argument("--sheet-images", type=int_range(1), default=6, help="rows of the sheet")


def _report_file(text: str) -> Path:
    """argparse type of --report: a file path, not an existing folder."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    return Path(text)


def _eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="AuC, naming agreement, CLIP colour choice",
                       formatter_class=HelpFormatter)
    _model_args(p)
    _data_args(p)
    p.add_argument("--split", choices=["heldout", "train", "all"], default="heldout",
                   help="which part of the --val-fraction/--seed split to evaluate")
    p.add_argument("--temperature", type=float_range(0, 10), default=DEFAULT_T,
                   help="annealed-mean temperature")
    p.add_argument("--side", type=int_range(8), default=256,
                   help="images are scaled to this long side before evaluation")
    p.add_argument("--scorer", default=None,
                   help="CLIP scorer (hub id or save_pretrained folder) for the colour choice "
                        "(default: none)")
    p.add_argument("--report", type=_report_file, default=None,
                   help="also write the JSON report here")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m colorist.colorize", description=__doc__,
                                formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _predict_parser(sub)
    _eval_parser(sub)
    return p


def run_train(a: argparse.Namespace) -> int:
    from colorist.colorize.train import train

    names = {f.name for f in fields(ColorizeTrainConfig)}
    kw = {k: v for k, v in vars(a).items() if k in names}
    cfg = ColorizeTrainConfig(**kw, rebalance=not a.no_rebalance, bf16=not a.no_bf16,
                              progress=not a.no_progress)
    r = train(cfg)
    print(json.dumps({"out": str(r.out), "steps": r.steps, "seconds": round(r.seconds, 1),
                      "steps_per_s": round(r.steps_per_s, 2), "final_loss": r.final_loss}))
    return 0


def run_predict(a: argparse.Namespace) -> int:
    from colorist.colorize.jobs import predict_folder

    summary = predict_folder(a.model, a.images, a.out, a.temperatures, a.size, a.device,
                             a.sheet, a.sheet_images)
    print(json.dumps(summary))
    return 0


def run_eval(a: argparse.Namespace) -> int:
    from colorist.colorize.jobs import eval_files

    report = eval_files(a.model, a.images, a.coco_json, a.split, a.val_fraction, a.seed,
                        a.temperature, a.size, a.side, a.scorer, a.device, a.report)
    print(json.dumps(report, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    from colorist.colorize.data import ImageListError
    from colorist.colorize.weights import WeightsError
    from colorist.hub import ModelNotFoundError

    a = parser().parse_args(argv)
    try:
        return {"train": run_train, "predict": run_predict, "eval": run_eval}[a.command](a)
    except (ImageListError, WeightsError, ModelNotFoundError) as e:  # data error: exit 1
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
