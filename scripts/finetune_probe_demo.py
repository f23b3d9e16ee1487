"""A tiny random CLIP fine-tuned on the probe stimuli: its probe report beside the untrained
one's, with 95% bootstrap intervals. CPU only, a few minutes.

    python scripts/finetune_probe_demo.py --out probe-demo [--epochs 30] [--docs]

1. ``colorist.probes.write_stimuli`` writes a training suite (seed 1) in the standard format;
2. ``colorist.dataset.build`` turns it into colour groups (recoloured variants + captions);
3. ``colorist.train.train`` fine-tunes a tiny random CLIP (``colorist.models.build_tiny_clip``)
   with ``probe_every``: the probe figures of the model being trained go into its log and
   ``loss.png``;
4. ``colorist.probes.run_probes`` scores the untrained and the fine-tuned model on a held-out
   suite (seed 2: other colour values, poses, fonts) and ``write_probe_report`` writes them
   side by side in OUT/probes/.

Every step resumes (the build, the training checkpoint; the model and stimuli are written
once). ``--docs`` copies the figures to docs/reproduce/ and rewrites the demo section of
docs/reproduce.md with this run's command and numbers.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from colorist.cli import HelpFormatter, int_range  # noqa: E402

DOC = ROOT / "docs" / "reproduce.md"
FIGURES = ROOT / "docs" / "reproduce"
BEGIN, END = "<!-- probe-demo:begin -->", "<!-- probe-demo:end -->"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python scripts/finetune_probe_demo.py", description=__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("--out", type=Path, default=Path("probe-demo"), help="output folder")
    p.add_argument("--epochs", type=int_range(1), default=30, help="fine-tuning epochs")
    p.add_argument("--n-per-colour", type=int_range(2), default=6,
                   help="training stimuli per colour and colour task")
    p.add_argument("--probe-every", type=int_range(0), default=5,
                   help="probe the model being trained every N epochs")
    p.add_argument("--docs", action="store_true",
                   help="copy the figures to docs/reproduce/ and rewrite docs/reproduce.md's "
                        "demo section")
    return p


# the probe suites: training stimuli (seed 1) and the held-out evaluation (seed 2)
SIZE = 64


def train_suite(n: int) -> dict:
    return {"n_per_color": n, "seed": 1, "image_size": SIZE, "stroop_repeats": 1}


HELD_OUT = {"n_per_color": 10, "seed": 2, "image_size": SIZE, "stroop_repeats": 2}


def build_dataset(out: Path, n: int) -> Path:
    from colorist.dataset.build import BuildConfig, build
    from colorist.probes import ProbeConfig, write_stimuli
    from colorist.sources import load_standard

    src = write_stimuli(out / "stimuli", ProbeConfig(**train_suite(n)), progress=True)
    records, categories = load_standard(src)
    summary = build(records, categories, BuildConfig(out=out / "dataset",
                                                     images=out / "stimuli" / "images",
                                                     backend="cpu", workers=2))
    print(f"dataset: {summary['objects']} objects, {summary['per_split']}")
    return out / "dataset"


def tiny_clip(out: Path) -> Path:
    from colorist.models import build_tiny_clip
    from colorist.probes.shapes import SHAPES

    path = out / "untrained"
    if not (path / "config.json").is_file():
        build_tiny_clip(path, words=[*SHAPES, "plain", "background", "word", "written",
                                     "text", "says", "colored", "color"])
    return path


def fine_tune(out: Path, model: Path, data: Path, args) -> Path:
    from colorist.train import TrainConfig, train

    result = train(TrainConfig(model=str(model), data=str(data), out=str(out / "fine-tuned"),
                               epochs=args.epochs, lr=3e-3, blocks=2, groups_per_batch=8,
                               device="cpu", compile="off", probe_every=args.probe_every,
                               probes={**HELD_OUT, "n_per_color": 4, "stroop_repeats": 1}))
    print(f"trained {args.epochs} epochs in {result.seconds:.0f} s; last: "
          f"loss {result.log[-1]['loss']:.3f}, val accuracy {result.log[-1]['val_accuracy']:.3f}")
    return out / "fine-tuned"


def probe_models(out: Path, models: dict[str, Path]) -> dict[str, dict]:
    from colorist.models import load_scorer
    from colorist.probes import ProbeConfig, build_suite, run_probes, write_probe_report

    suite = build_suite(ProbeConfig(**HELD_OUT))
    reports = {name: run_probes(load_scorer(path, device="cpu"), suite)
               for name, path in models.items()}
    write_probe_report(out / "probes", reports, overwrite=True)
    return reports


def _ci(e: dict | None) -> str:
    return "-" if e is None else f"{e['value']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]"


def summary_table(reports: dict[str, dict], val: dict[str, float]) -> str:
    from colorist.train.probing import PROBE_TITLES, probe_metrics

    rows = {name: probe_metrics(r) for name, r in reports.items()}
    tasks = list(next(iter(reports.values()))["tasks"])
    head = ["colour choice (val groups)", *(f"probe {t} accuracy" for t in tasks),
            *PROBE_TITLES.values()]
    lines = ["| model | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for name, r in reports.items():
        cells = [f"{val[name]:.3f}", *(_ci(r["tasks"][t]["accuracy"]) for t in tasks),
                 *(_ci(rows[name].get(k)) for k in PROBE_TITLES)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def val_accuracy(models: dict[str, Path], data: Path) -> dict[str, float]:
    from colorist.eval.__main__ import evaluate
    from colorist.models import load_scorer

    return {name: evaluate(load_scorer(path, device="cpu"), data)["color"]["accuracy"]
            for name, path in models.items()}


def write_docs(out: Path, table: str, args) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    figures = {"training.png": out / "fine-tuned" / "loss.png",
               "probes-object.png": out / "probes" / "bars_object.png",
               "probes-background.png": out / "probes" / "bars_background.png"}
    for name, src in figures.items():
        shutil.copyfile(src, FIGURES / name)
    command = (f"python scripts/finetune_probe_demo.py --out OUT --epochs {args.epochs} "
               f"--n-per-colour {args.n_per_colour} --probe-every {args.probe_every} --docs")
    section = "\n".join([
        BEGIN, "", "```bash", command, "```", "",
        "Probe figures on the held-out suite (seed 2, 10 stimuli per colour and colour task, "
        "12 colours, 64 px), mean [95% bootstrap interval]:", "", table, "",
        "Fine-tuning with the probes every few epochs (right: the held-out figures of the "
        "model being trained, shaded: 95% intervals):", "",
        "![training](reproduce/training.png)", "",
        "Per-colour accuracy, object and background tasks:", "",
        "![object](reproduce/probes-object.png)", "",
        "![background](reproduce/probes-background.png)", "", END])
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC}: no {BEGIN} ... {END} section to rewrite")
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + section + rest.split(END, 1)[1])
    print(f"wrote {DOC} and {len(figures)} figures in {FIGURES}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = args.out
    data = build_dataset(out, args.n_per_colour)
    untrained = tiny_clip(out)
    tuned = fine_tune(out, untrained, data, args)
    models = {"untrained": untrained, "fine-tuned": tuned / "merged"}
    reports = probe_models(out, models)
    table = summary_table(reports, val_accuracy(models, data))
    print(table)
    if args.docs:
        write_docs(out, table, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
