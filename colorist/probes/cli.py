"""``python -m colorist.eval probes``: the probe suite on one or more models side by side.

    python -m colorist.eval probes --model openai/clip-vit-base-patch32 --model run/merged \\
        --out probes [--seed 0] [--n-per-colour 10] [--tasks whole,object,background,stroop]

Writes OUT/report.json, OUT/report.md, per-colour bar charts and Stroop heatmaps
(``colorist.probes.report``). A rerun with the same settings resumes: models already in
OUT/report.json are not probed again (unless --overwrite), new ones are added beside them.
Settings that differ from the report's are refused (nothing is replaced) unless --overwrite.

A model that cannot be loaded (no such folder or hub id, no config.json, an unknown model
type, a checkpoint the scorer refuses) is skipped with a message naming it on stderr and
listed in OUT/rejects.jsonl (reason ``model-unloadable``); the other models finish. Exit
status: 0 when at least one model was probed (or was already in the report), 1 when no
model could be, 2 for a usage error or a report made with other settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Container, Iterable
from pathlib import Path

from colorist.cli import HelpFormatter, float_range, int_range, out_folder
from colorist.extras import EXTRA_MODULES
from colorist.probes.colors import PROBE_COLORS
from colorist.probes.config import TASKS, ProbeConfig
from colorist.rejects import Reject

REJECTS = "rejects.jsonl"


class NoModelEvaluated(RuntimeError):
    """Every ``--model`` of a run was skipped: there is nothing to report (exit status 1)."""


def load_or_reject(name: str, device: str | None, rejects: list[Reject]):
    """``load_scorer(name)``, or None for a model that cannot be loaded: its ``Reject``
    (``model-unloadable``; ``internal-error`` for an unexpected exception) is appended to
    ``rejects`` and a line naming it goes to stderr. A missing module of the 'train' extra
    is not the model's fault and is raised (one line from ``run_with_extra``)."""
    from colorist.models import load_scorer

    try:
        return load_scorer(name, device=device)
    except ImportError as e:
        if (e.name or "").split(".")[0] in EXTRA_MODULES["train"]:
            raise
        reject = Reject("model-unloadable", str(e), context={"model": name})
    except (OSError, ValueError, RuntimeError) as e:
        reject = Reject("model-unloadable", str(e), context={"model": name})
    except Exception as e:  # a checkpoint can fail in any way (safetensors, config code)
        reject = Reject.from_error(e, context={"model": name})
    rejects.append(reject)
    print(f"warning: model {name!r} skipped ({reject.reason}): {reject.error}",
          file=sys.stderr)
    return None


def write_rejects(out: Path, records: list[dict]) -> None:
    """``out/rejects.jsonl``: what this run skipped, one JSON record a line. An earlier
    run's file is replaced (emptied when nothing was skipped); a clean run makes none."""
    from colorist.io.atomic import atomic_write_text

    path = out / REJECTS
    if records or path.exists():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def finish_models(out: Path, requested: Iterable[str], done: Container[str],
                  rejects: list[Reject], item_records: Iterable[dict] = ()) -> None:
    """Write ``out/rejects.jsonl`` (the skipped models, then ``item_records``: items the
    evaluated models skipped) and say on stderr how many models were skipped.

    Raises:
        NoModelEvaluated: none of ``requested`` is in ``done`` (the models evaluated).
    """
    write_rejects(out, [r.to_dict() for r in rejects] + list(item_records))
    requested = list(dict.fromkeys(requested))
    if not any(m in done for m in requested):
        raise NoModelEvaluated(f"no model could be evaluated ({len(requested)} given, "
                               f"all skipped); reasons in {out / REJECTS}")
    if rejects:
        print(f"{len(rejects)} of {len(requested)} models skipped; reasons in "
              f"{out / REJECTS}", file=sys.stderr)


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
    each one, so an interrupted run loses at most the model in progress. A model that cannot
    be loaded is skipped (``load_or_reject``) and listed in OUT/rejects.jsonl.

    Raises:
        NoModelEvaluated: no ``--model`` is in the report (all could not be loaded).
    """
    from colorist.probes.report import write_probe_report
    from colorist.probes.run import run_probes
    from colorist.probes.stimuli import build_suite, write_stimuli

    config = config_from_args(args)
    reports = _resumable(args.out, config, args.overwrite)
    suite = build_suite(config)
    if args.stimuli:
        write_stimuli(args.stimuli, suite, overwrite=args.overwrite, progress=None)
    path = args.out / "report.md"
    rejects: list[Reject] = []
    done: set[str] = set()  # in the report from this run or (not --overwrite) an earlier one
    for name in dict.fromkeys(args.model):
        if name in reports and not args.overwrite:
            print(f"{name}: already in {args.out / 'report.json'}, not probed again",
                  file=sys.stderr)
            done.add(name)
            continue
        scorer = load_or_reject(name, args.device, rejects)
        if scorer is None:  # (an earlier result of it stays in the report)
            continue
        reports[name] = run_probes(scorer, suite, args.batch_size, n_resamples=args.resamples)
        done.add(name)
        path = write_probe_report(args.out, reports, overwrite=True)
    finish_models(args.out, args.model, done, rejects)
    if not path.is_file():  # every model was there already; the report is unchanged
        path = write_probe_report(args.out, reports)
    return path
