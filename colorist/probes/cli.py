"""``python -m colorist.eval probes``: the probe suite on one or more models side by side.

    python -m colorist.eval probes --model openai/clip-vit-base-patch32 --model run/merged \\
        --out probes [--seed 0] [--n-per-colour 10] [--tasks whole,object,background,stroop]

Writes OUT/report.json, OUT/report.md, per-colour bar charts and Stroop heatmaps
(``colorist.probes.report``). A rerun with the same settings resumes: models already in
OUT/report.json are not probed again (unless --overwrite), new ones are added beside them.
Settings that differ from the report's are refused (nothing is replaced) unless --overwrite.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from colorist.cli import HelpFormatter, float_range, int_range, out_folder
from colorist.probes.colors import PROBE_COLORS
from colorist.probes.config import TASKS, ProbeConfig


def _choices(what: str, known) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: a comma-separated list of ``known`` names (repeats dropped)."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [t for t in names if t not in known]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"unknown {what} {bad[0] if bad else text!r}; "
                                             f"choose from {','.join(known)}")
        return tuple(dict.fromkeys(names))

    parse.__name__ = f"{what} list"
    return parse


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``probes`` subcommand on ``sub`` (an ``add_subparsers`` object)."""
    p = sub.add_parser("probes", help="colour probes: achromatic bias, Stroop test",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model", action="append", required=True,
                   help="hub id, save_pretrained folder or open_clip name; repeat for several")
    p.add_argument("--out", type=out_folder, required=True, help="report folder")
    p.add_argument("--seed", type=int_range(0), default=0, help="seed of the stimuli")
    p.add_argument("--n-per-colour", type=int_range(1), default=10,
                   help="stimuli per colour and colour task")
    p.add_argument("--tasks", type=_choices("task", TASKS), default=",".join(TASKS),
                   help="comma-separated tasks: " + ",".join(TASKS))
    p.add_argument("--colors", type=_choices("colour", PROBE_COLORS),
                   default=",".join(PROBE_COLORS),
                   help="comma-separated colours to probe (at least 2)")
    p.add_argument("--stroop-repeats", type=int_range(1), default=2,
                   help="renderings of every (word, ink) cell of the Stroop grid")
    p.add_argument("--image-size", type=int_range(32, 1024), default=224,
                   help="side of the stimuli in pixels")
    p.add_argument("--margin", type=float_range(0, 0.95), default=0.5,
                   help="namer probability margin of the sampled colours")
    p.add_argument("--batch-size", type=int_range(1), default=64, help="images encoded at once")
    p.add_argument("--resamples", type=int_range(100), default=10000,
                   help="bootstrap resamples and permutations of every interval and p-value")
    p.add_argument("--stimuli", type=out_folder,
                   help="also write the stimuli here (standard format: images/ + probes.json)")
    p.add_argument("--overwrite", action="store_true",
                   help="probe models already in --out's report again, and replace a "
                   "report of other settings")
    p.add_argument("--device", help="torch device (default: cuda if present, else cpu)")
    return p


def config_from_args(args) -> ProbeConfig:
    return ProbeConfig(tasks=args.tasks, colors=args.colors, n_per_color=args.n_per_colour,
                       seed=args.seed,
                       image_size=args.image_size, margin=args.margin,
                       stroop_repeats=args.stroop_repeats)


def _resumable(out: Path, config: ProbeConfig, overwrite: bool) -> dict[str, dict]:
    """The models of an existing report with the same config (to keep and skip)."""
    from colorist.probes.report import read_probe_report

    doc = None
    try:
        doc = read_probe_report(out)
    except FileExistsError:
        if not overwrite:
            raise
    if doc is None:
        return {}
    wanted = json.loads(json.dumps(config.to_dict()))
    models = doc.get("models", {})
    if all(r.get("config") == wanted for r in models.values()):
        return dict(models)
    if overwrite:
        return {}
    raise FileExistsError(f"{out / 'report.json'} was made with other settings; choose "
                          "another --out or pass --overwrite")


def run(args) -> Path:
    """Probe every ``--model`` (skipping those already reported) and write the report after
    each one, so an interrupted run loses at most the model in progress."""
    from colorist.models import load_scorer
    from colorist.probes.report import write_probe_report
    from colorist.probes.run import run_probes
    from colorist.probes.stimuli import build_suite, write_stimuli

    config = config_from_args(args)
    reports = _resumable(args.out, config, args.overwrite)
    suite = build_suite(config)
    if args.stimuli:
        write_stimuli(args.stimuli, suite, overwrite=args.overwrite, progress=None)
    path = args.out / "report.md"
    for name in dict.fromkeys(args.model):
        if name in reports and not args.overwrite:
            print(f"{name}: already in {args.out / 'report.json'}, not probed again",
                  file=sys.stderr)
            continue
        scorer = load_scorer(name, device=args.device)
        reports[name] = run_probes(scorer, suite, args.batch_size, n_resamples=args.resamples)
        path = write_probe_report(args.out, reports, overwrite=True)
    if not path.is_file():  # every model was there already; the report is unchanged
        path = write_probe_report(args.out, reports)
    return path
