"""The thesis' whole chain in one call: mine, build, train (10 and 50 epochs), evaluate the
pretrained and the fine-tuned models, write one report with the published figures beside.

    from colorist.reproduce import ThesisConfig, run_thesis
    run_thesis(ThesisConfig(coco="coco", out="repro", flickr="Flickr8k"))

Stages (``colorist.reproduce.stages``: each in ``OUT/<stage>/``, skipped on a rerun when
it finished with the same settings, refused or redone with ``rebuild`` when they changed):

    mine             colorist.dataset.mine over the COCO captions -> objects.jsonl
    dataset          colorist.dataset.build -> the colour groups (train, val, complementary)
    train-<E>        colorist.train.train for E epochs -> merged/ (one stage per E)
    eval-<model>     colorist.eval.evaluate (+ probes) of the pretrained and each trained model

A longer training run starts from the checkpoint of the longest finished shorter run with
the same settings (the trainer's resume: the schedule and the learning rate do not depend
on the number of epochs, so 50 epochs = 10 epochs + 40 more, bit for bit), so ``--epochs
10,50`` trains 50 epochs, not 60. The report is rewritten on every run from the stages'
results: ``OUT/report.md`` / ``report.json`` / ``report.png``, and the side-by-side colour
report of ``colorist.eval`` in ``OUT/eval/``.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from colorist.io.run_config import settings_hash
from colorist.reproduce.stages import StageResult, StageRunner

PRETRAINED = "pretrained"
# Settings of a TrainConfig that do not change what it trains (where, how fast, how loud).
_NOT_SETTINGS = ("data", "out", "device", "progress", "resume", "compile")


@dataclass
class ThesisConfig:
    coco: str | Path  # folder with annotations/captions_<split>.json, instances_<split>.json
    out: str | Path
    flickr: str | Path | None = None  # Flickr8k-Expert folder (colorist.eval --flickr-dir)
    model: str = "openai/clip-vit-base-patch32"  # hub id or save_pretrained folder
    epochs: tuple[int, ...] = (10, 50)
    coco_split: str = "train2017"
    limit: int | None = None  # build at most this many objects (smoke runs)
    backend: str = "auto"  # recolouring backend of the build
    workers: int = 4
    train: dict = field(default_factory=dict)  # other colorist.train.TrainConfig fields
    probes: dict | None = field(default_factory=dict)  # ProbeConfig fields; None: no probes
    device: str | None = None
    rebuild: bool = False  # redo the stages whose settings changed (old ones set aside)
    progress: bool = True


def coco_files(coco: str | Path, split: str = "train2017") -> tuple[Path, Path, Path]:
    """(captions JSON, instances JSON, images folder) of a COCO folder: ``annotations/
    captions_<split>.json``, ``annotations/instances_<split>.json`` and ``<split>/`` (or
    ``images/``).

    Raises:
        FileNotFoundError: a file or the image folder is missing (named).
    """
    root = Path(coco).resolve()  # the settings record where the data is, however given
    caps = root / "annotations" / f"captions_{split}.json"
    inst = root / "annotations" / f"instances_{split}.json"
    images = next((root / d for d in (split, "images") if (root / d).is_dir()), None)
    for path in (caps, inst):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such COCO annotation file (--coco {root}, "
                                    f"--coco-split {split})")
    if images is None:
        raise FileNotFoundError(f"{root}: no image folder {split}/ or images/")
    return caps, inst, images


def _counts(objects) -> dict:
    return {"objects": len(objects), "per_group": dict(Counter(o.group for o in objects)),
            "per_color": dict(Counter(o.color for o in objects))}


class ThesisRun:
    """The chain's stages over one ``ThesisConfig`` (``run_thesis`` runs them in order)."""

    def __init__(self, cfg: ThesisConfig, log: Callable[[str], Any] = print):
        self.cfg, self.out = cfg, Path(cfg.out)
        self.files = coco_files(cfg.coco, cfg.coco_split)
        self.runner = StageRunner(self.out, cfg.rebuild, log)

    @cached_property
    def source(self):
        """(records, categories, problems) of the COCO files, read once."""
        from colorist.sources import load_coco

        problems: list = []
        records, categories = load_coco(self.files[0], self.files[1], problems)
        return records, categories, problems

    def _build_config(self, folder: Path):
        from colorist.dataset.build import BuildConfig

        return BuildConfig(out=folder, images=self.files[2], limit=self.cfg.limit,
                           backend=self.cfg.backend, workers=self.cfg.workers,
                           progress=self.cfg.progress, source_problems=self.source[2])

    def _source_settings(self) -> dict:
        return {"captions": str(self.files[0]), "instances": str(self.files[1])}

    def mine(self) -> StageResult:
        from colorist.dataset.build import mine
        from colorist.dataset.outdir import build_settings

        def run(folder: Path) -> dict:
            objects, _ = mine(*self.source[:2], self._build_config(folder))
            return _counts(objects)

        cfg = self._build_config(self.out / "mine")
        return self.runner.run("mine", {**self._source_settings(), **build_settings(cfg)}, run)

    def dataset(self) -> StageResult:
        from colorist.dataset.build import build
        from colorist.dataset.outdir import build_settings

        def run(folder: Path) -> dict:
            summary = build(*self.source[:2], self._build_config(folder))
            if summary.get("write_failed") or summary.get("write_error"):
                raise OSError(f"{folder}: {summary.get('write_failed')} object(s) not written "
                              f"({summary.get('write_error')}); free space and rerun")
            return summary

        cfg = self._build_config(self.out / "dataset")
        settings = {**self._source_settings(), "images": str(self.files[2]),
                    "limit": self.cfg.limit, **build_settings(cfg),
                    "after": {"mine": self.runner.results["mine"].hash}}
        return self.runner.run("dataset", settings, run)

    def _train_config(self, epochs: int, folder: Path):
        from colorist.train import TrainConfig

        return TrainConfig(**{"model": self.cfg.model, **self.cfg.train, "epochs": epochs,
                              "data": str(self.runner.results["dataset"].folder),
                              "out": str(folder), "device": self.cfg.device,
                              "progress": self.cfg.progress})

    def train(self, epochs: int) -> StageResult:
        from colorist.train import train

        name = f"train-{epochs}"
        settings = {k: v for k, v in asdict(self._train_config(epochs, self.out / name)).items()
                    if k not in _NOT_SETTINGS}
        settings["after"] = {"dataset": self.runner.results["dataset"].hash}
        base = settings_hash({k: v for k, v in settings.items() if k != "epochs"})

        def run(folder: Path) -> dict:
            self._warm_start(folder, base, epochs)
            result = train(self._train_config(epochs, folder))
            return {"epochs": epochs, "base": base, "log": result.log,
                    "seconds": round(result.seconds, 2)}

        return self.runner.run(name, settings, run)

    def _warm_start(self, folder: Path, base: str, epochs: int) -> None:
        """Copy the checkpoint of the longest finished shorter run with the same settings
        (the trainer resumes from it), unless this run has its own checkpoint already."""
        ckpt = folder / "checkpoint.pt"
        shorter = [r for r in self.runner.results.values() if r.result.get("base") == base
                   and r.result["epochs"] < epochs and (r.folder / ckpt.name).is_file()]
        if ckpt.exists() or not shorter:
            return
        source = max(shorter, key=lambda r: r.result["epochs"]).folder / ckpt.name
        tmp = ckpt.with_name(ckpt.name + ".copy")
        shutil.copyfile(source, tmp)
        os.replace(tmp, ckpt)

    def evaluate(self, label: str, model: str, after: StageResult | None) -> StageResult:
        from colorist.eval.__main__ import evaluate
        from colorist.models import load_scorer
        from colorist.probes import ProbeConfig, run_probes

        def run(folder: Path) -> dict:
            scorer = load_scorer(model, device=self.cfg.device)
            data = self.runner.results["dataset"].folder
            flickr = Path(self.cfg.flickr) if self.cfg.flickr else None
            r = {"model": model, **evaluate(scorer, data, "val", flickr)}
            if self.cfg.probes is not None:
                r["probes"] = run_probes(scorer, ProbeConfig(**self.cfg.probes),
                                         progress=self.cfg.progress)
            return r

        upstream = {"dataset": self.runner.results["dataset"].hash}
        if after is not None:
            upstream[after.name] = after.hash
        settings = {"model": model if after is None else after.name, "after": upstream,
                    "flickr": str(Path(self.cfg.flickr).resolve()) if self.cfg.flickr else None,
                    "probes": self.cfg.probes}
        return self.runner.run(f"eval-{label}", settings, run)


def run_thesis(cfg: ThesisConfig, log: Callable[[str], Any] = print) -> dict:
    """Run (or resume) every stage and write the report; returns the report's data
    (``colorist.reproduce.report.thesis_report``).

    Raises:
        FileNotFoundError: a COCO file or folder is missing.
        ConfigChangedError: a finished stage was made with other settings (and not
            ``cfg.rebuild``); the message names the stage and the settings that differ.
    """
    from colorist.reproduce.report import write_thesis_report

    if not cfg.epochs or any(e < 1 for e in cfg.epochs):
        raise ValueError(f"epochs {cfg.epochs}: give one or more positive epoch counts")
    run = ThesisRun(cfg, log)
    run.mine()
    run.dataset()
    models = {PRETRAINED: run.evaluate(PRETRAINED, cfg.model, None).result}
    for epochs in sorted(set(cfg.epochs)):
        trained = run.train(epochs)
        label = f"{epochs} epoch" + "s" * (epochs != 1)
        models[label] = run.evaluate(f"{epochs}", str(trained.folder / "merged"), trained).result
    return write_thesis_report(run.out, models, run.runner.results, overwrite=cfg.rebuild)
