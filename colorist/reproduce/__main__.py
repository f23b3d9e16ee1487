"""``python -m colorist.reproduce thesis --coco DIR [--flickr DIR] --model M --out DIR``

Runs the thesis' chain: mine the COCO captions, build the colour dataset, fine-tune for each
of --epochs, evaluate the pretrained and every fine-tuned model (colour choice,
complementary colours, Flickr8k-Expert with --flickr) and write OUT/report.md with the
thesis' published figures beside the measured ones.

Every stage works in its own folder OUT/<stage>/ and is skipped on a rerun when it finished
with the same settings; a stage that did not finish resumes. A rerun with other settings is
refused (the message names the stage and what differs) unless --rebuild, which moves the
changed stages (and those after them) to OUT/replaced/<time>/ and runs them again.
Exit status: 0 done, 1 outputs could not be written, 2 usage error or refused rerun.
Needs the 'nlp' and 'train' extras: pip install 'colorist[nlp,train]'.
"""

from __future__ import annotations

import argparse
import sys

from colorist.cli import HelpFormatter, in_folder, int_range, out_folder
from colorist.extras import run_with_extra


def _epochs(text: str) -> tuple[int, ...]:
    try:
        epochs = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected epoch counts, e.g. 10,50") \
            from None
    if any(e < 1 for e in epochs):
        raise argparse.ArgumentTypeError(f"{text}: epoch counts must be at least 1")
    return epochs


def parser() -> argparse.ArgumentParser:
    from colorist.recolor.backends import BACKENDS
    from colorist.reproduce.thesis import ThesisConfig
    from colorist.train.config import TrainConfig

    d, t = ThesisConfig(coco="", out=""), TrainConfig()
    p = argparse.ArgumentParser(prog="python -m colorist.reproduce", description=__doc__,
                                formatter_class=HelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("thesis", help="COCO -> dataset -> fine-tunes -> report with the "
                       "thesis' figures", formatter_class=HelpFormatter)
    s.add_argument("--coco", type=in_folder, required=True,
                   help="COCO folder: annotations/captions_<split>.json, "
                        "annotations/instances_<split>.json, <split>/ or images/")
    s.add_argument("--coco-split", default=d.coco_split, help="the COCO files' split name")
    s.add_argument("--flickr", type=in_folder, help="Flickr8k-Expert folder "
                   "(ExpertAnnotations.txt, Flickr8k.token.txt, images); none: no Flickr row")
    s.add_argument("--model", default=d.model, help="CLIP: hub id or save_pretrained folder")
    s.add_argument("--out", type=out_folder, required=True, help="output folder")
    s.add_argument("--epochs", type=_epochs, default=d.epochs,
                   help="fine-tuning lengths, comma-separated (each a model in the report)")
    s.add_argument("--limit", type=int_range(1), help="build at most this many objects "
                   "(default: all)")
    s.add_argument("--backend", default=d.backend, choices=["auto", *BACKENDS],
                   help="recolouring backend of the build")
    s.add_argument("--workers", type=int_range(1, 64), default=d.workers,
                   help="I/O threads of the build")
    s.add_argument("--lr", type=float, default=t.lr, help="AdamW learning rate")
    s.add_argument("--groups-per-batch", type=int_range(1), default=t.groups_per_batch,
                   help="colour groups per training step")
    s.add_argument("--seed", type=int_range(0), default=t.seed, help="training seed")
    s.add_argument("--probe-every", type=int_range(0), default=t.probe_every,
                   help="also run the probes every N epochs of training, into each run's "
                        "log.jsonl and loss.png (0: never)")
    s.add_argument("--probe-n", type=int_range(1), default=10,
                   help="probe stimuli per colour and colour task of the evaluation")
    s.add_argument("--probe-stroop-repeats", type=int_range(1), default=2,
                   help="renderings of every (word, ink) cell of the Stroop grid")
    s.add_argument("--probe-image-size", type=int_range(32, 1024), default=224,
                   help="side of the probe stimuli in pixels")
    s.add_argument("--probe-seed", type=int_range(0), default=0, help="seed of the stimuli")
    s.add_argument("--no-probes", action="store_true", help="evaluate without the probes")
    s.add_argument("--device", help="torch device (default: cuda if present, else cpu)")
    s.add_argument("--rebuild", action="store_true",
                   help="redo the stages whose settings changed (the old ones are moved to "
                        "OUT/replaced/<time>/)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def config(args: argparse.Namespace):
    from colorist.reproduce.thesis import ThesisConfig
    from colorist.train.config import TrainConfig

    probes = {"n_per_color": args.probe_n, "image_size": args.probe_image_size,
              "seed": args.probe_seed, "stroop_repeats": args.probe_stroop_repeats}
    train = {"lr": args.lr, "groups_per_batch": args.groups_per_batch, "seed": args.seed}
    if args.probe_every:  # else the probe settings are no training setting
        train.update(probe_every=args.probe_every, probes={
            **TrainConfig().probes, "image_size": args.probe_image_size, "seed": args.probe_seed})
    return ThesisConfig(coco=args.coco, out=args.out, flickr=args.flickr, model=args.model,
                        epochs=args.epochs, coco_split=args.coco_split, limit=args.limit,
                        backend=args.backend, workers=args.workers, train=train,
                        probes=None if args.no_probes else probes, device=args.device,
                        rebuild=args.rebuild, progress=not args.quiet)


def _run(args) -> int:
    from colorist.dataset.schema import DatasetError
    from colorist.eval.flickr import FlickrFormatError
    from colorist.reproduce.thesis import run_thesis
    from colorist.sources import SourceError

    try:
        run_thesis(config(args))
    except (SourceError, DatasetError, FlickrFormatError, FileNotFoundError, ValueError,
            FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print((args.out / "report.md").read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage error (or the help)
        return int(e.code or 0)
    return run_with_extra(f"reproduce {args.command}", ("train", "nlp"), lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
