"""Run the probe suite on a scorer: ``run_probes(scorer, suite) -> ProbeReport``.

    from colorist.models import load_scorer
    from colorist.probes import ProbeConfig, run_probes
    report = run_probes(load_scorer("openai/clip-vit-base-patch32"), ProbeConfig(seed=0))
    report["stroop"]["ink_incongruent"]      # {"value": 0.09, "lo": ..., "hi": ..., "n": 264}

Every stimulus' image is encoded once; its score for a colour is the mean cosine
similarity with the prompt family's templates filled with that colour, and the prediction
is the best colour (12-way by default; ties go to the first). A ``ProbeReport`` is a plain
JSON-able dict: every accuracy or rate is ``{"value", "lo", "hi", "n"}`` with a
percentile-bootstrap confidence interval over items (``colorist.eval.significance``);
differences of paired items (the achromatic bias index over design slots, Stroop
interference and facilitation over twins) are ``{"value", "lo", "hi", "n", "p"}`` with a
paired bootstrap interval and a paired permutation test's p-value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from colorist.eval.metrics import choose, confusion_matrix
from colorist.eval.report import progress as bar
from colorist.eval.significance import bootstrap_ci, paired_bootstrap_diff, permutation_test
from colorist.probes.achromatic import achromatic_outcomes, achromatic_summary, slot_recalls
from colorist.probes.colors import is_achromatic
from colorist.probes.config import COLOR_TASKS, ProbeConfig
from colorist.probes.stimuli import ProbeSuite, build_suite
from colorist.probes.stroop import stroop_heatmaps, stroop_outcomes

ProbeReport = dict[str, Any]
CONFIDENCE = 0.95


# ---- confidence intervals -------------------------------------------------------------


def with_ci(values, n_resamples: int = 10000) -> dict | None:
    """``{"value", "lo", "hi", "n"}``: mean of per-item values with its bootstrap interval;
    None for no items."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return None
    mean, lo, hi = bootstrap_ci(values, n_resamples, CONFIDENCE)
    return {"value": mean, "lo": lo, "hi": hi, "n": int(values.size)}


def paired_with_ci(a, b, n_resamples: int = 10000) -> dict | None:
    """``{"value", "lo", "hi", "n", "p"}``: mean of ``a - b`` over paired items, its paired
    bootstrap interval and the paired permutation test's p-value (None for one pair); None
    for no pairs."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0:
        return None
    d = paired_bootstrap_diff(a, b, n_resamples, CONFIDENCE)
    # scipy's permutation test needs two pairs or more
    p = permutation_test(a, b, n_resamples) if a.size >= 2 else None
    return {"value": d["diff"], "lo": d["lo"], "hi": d["hi"], "n": int(a.size), "p": p}


# ---- scoring --------------------------------------------------------------------------


def _fill(templates: Sequence[str], colors: Sequence[str], **fields) -> list[str]:
    """``T * C`` prompts, template-major."""
    return [t.format(c=c, C=c.upper(), **fields) for t in templates for c in colors]


def score_stimuli(scorer, stimuli: Sequence, families: dict[str, Callable[[Any], list[str]]],
                  n_colors: int, batch_size: int = 64, progress: bool | None = None,
                  desc: str = "probes") -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Scores of every stimulus against every prompt family.

    Args:
        scorer: a ``colorist.models.Scorer`` (``encode_images`` / ``encode_texts``).
        stimuli: objects with ``render() -> (image, mask)``.
        families: name -> function giving a stimulus' ``T * C`` prompts (template-major).
        n_colors: C.
        progress: a progress bar per batch (None: when stderr is a terminal).

    Returns:
        ``({family: (N, C) float32 mean cosine over the T templates}, seconds)``, seconds
        with ``render``, ``images`` (encoding) and ``texts``.
    """
    t0 = time.perf_counter()
    texts: dict[str, int] = {}
    rows = {f: np.array([[texts.setdefault(p, len(texts)) for p in make(s)] for s in stimuli],
                        dtype=np.int64).reshape(len(stimuli), -1) for f, make in families.items()}
    txt = scorer.encode_texts(list(texts))
    seconds = {"texts": time.perf_counter() - t0, "render": 0.0, "images": 0.0}
    out = {f: np.empty((len(stimuli), n_colors), np.float32) for f in families}
    for start in bar(range(0, len(stimuli), batch_size), desc, show=progress):
        t0 = time.perf_counter()
        images = [s.render()[0] for s in stimuli[start : start + batch_size]]
        t1 = time.perf_counter()
        sims = (scorer.encode_images(images, batch_size) @ txt.T).float().cpu().numpy()
        seconds["render"] += t1 - t0
        seconds["images"] += time.perf_counter() - t1
        for f, idx in rows.items():
            picked = np.take_along_axis(sims, idx[start : start + len(images)], axis=1)
            out[f][start : start + len(images)] = picked.reshape(len(images), -1,
                                                                 n_colors).mean(axis=1)
    return out, seconds


def _families(config: ProbeConfig, task: str) -> dict[str, Callable[[Any], list[str]]]:
    p, colors = config.prompts, config.colors
    if task == "stroop":
        ink, word = _fill(p["ink"], colors), _fill(p["word"], colors)
        return {"ink": lambda s: ink, "word": lambda s: word}
    if task == "whole":
        whole = _fill(p["whole"], colors)
        return {task: lambda s: whole}
    by_shape = {shape: _fill(p[task], colors, shape=shape) for shape in config.shapes}
    return {task: lambda s: by_shape[s.shape]}


# ---- reports --------------------------------------------------------------------------


def _achromatic_report(pred, truth, slot, achromatic, n_resamples) -> dict:
    out = achromatic_summary(pred, truth, achromatic)
    for name, values in achromatic_outcomes(pred, truth, achromatic).items():
        out[name] = with_ci(values, n_resamples)
    chrom, ach = slot_recalls(pred, truth, slot, achromatic)
    out["bias_index"] = paired_with_ci(chrom, ach, n_resamples)
    return out


def color_task_report(scores: np.ndarray, truth: np.ndarray, slot: np.ndarray,
                      colors: Sequence[str], n_resamples: int = 10000) -> dict:
    """Accuracy, per-colour accuracy, confusion and the achromatic block of one task.

    Args:
        scores: ``(N, C)`` scores (any real values; the best colour is chosen).
        truth: ``(N,)`` int true colour index; slot: ``(N,)`` int design slot.
        colors: the C colour names.
    """
    pred = choose(scores)
    correct = pred == truth
    names = list(colors)
    return {
        "n": int(len(truth)),
        "accuracy": with_ci(correct, n_resamples),
        "per_color": {c: with_ci(correct[truth == i], n_resamples) for i, c in enumerate(names)},
        "labels": names,
        "confusion": confusion_matrix([names[t] for t in truth], [names[p] for p in pred],
                                      names).tolist(),
        "achromatic": _achromatic_report(pred, truth, slot, is_achromatic(names), n_resamples),
    }


def stroop_report(ink_scores: np.ndarray, word_scores: np.ndarray, ink, word, pair,
                  colors: Sequence[str], n_resamples: int = 10000) -> dict:
    """The Stroop metrics with intervals and the word x ink heatmaps.

    Args:
        ink_scores, word_scores: ``(N, C)`` scores with the ink and the word prompts.
        ink, word, pair: as in ``stroop_outcomes`` (word -1 for neutral items).
    """
    ink_pred, word_pred = choose(ink_scores), choose(word_scores)
    o = stroop_outcomes(ink_pred, word_pred, ink, word, pair)
    out = {k: with_ci(o[k], n_resamples) for k in ("ink_congruent", "ink_incongruent",
                                                   "ink_neutral", "word_over_ink",
                                                   "word_reading")}
    out["interference"] = paired_with_ci(*o["interference"], n_resamples)
    out["facilitation"] = paired_with_ci(*o["facilitation"], n_resamples)
    maps = stroop_heatmaps(ink_pred, ink, word, len(colors))
    out["heatmaps"] = {k: np.where(np.isnan(v), None, v).tolist() for k, v in maps.items()}
    out["labels"] = list(colors)
    return out


def _indices(colors: Sequence[str], names) -> np.ndarray:
    index = {c: i for i, c in enumerate(colors)}
    return np.array([-1 if n is None else index[n] for n in names], dtype=int)


def run_probes(scorer, suite: ProbeSuite | ProbeConfig | None = None, batch_size: int = 64,
               progress: bool | None = None, n_resamples: int = 10000) -> ProbeReport:
    """Score the probe suite with ``scorer`` and summarise it.

    Args:
        scorer: a ``colorist.models.Scorer`` (HF CLIP, open_clip, a LoRA model in training).
        suite: a built ``ProbeSuite``, a ``ProbeConfig`` to build one, or None (defaults).
        batch_size: images encoded at once.
        progress: a progress bar per task (None: when stderr is a terminal).
        n_resamples: bootstrap resamples (and permutations) of every interval.

    Returns:
        A JSON-able ``ProbeReport``: ``model``, ``config``, ``n_stimuli``, ``seconds``,
        ``tasks`` (per colour task: ``color_task_report``), ``achromatic`` (pooled over the
        colour tasks) and ``stroop`` (``stroop_report``), the last two when their tasks ran.
    """
    suite = suite if isinstance(suite, ProbeSuite) else build_suite(suite)
    config, colors = suite.config, suite.config.colors
    report: ProbeReport = {"model": str(getattr(scorer, "name", "")), "config": config.to_dict(),
                           "n_stimuli": len(suite), "tasks": {}}
    seconds = {"render": 0.0, "images": 0.0, "texts": 0.0}
    pooled = []
    for task, stimuli in suite.stimuli.items():
        scores, sec = score_stimuli(scorer, stimuli, _families(config, task), len(colors),
                                    batch_size, progress, desc=f"probes: {task}")
        seconds = {k: seconds[k] + sec[k] for k in seconds}
        if task in COLOR_TASKS:
            truth = _indices(colors, [s.label for s in stimuli])
            # slots of different tasks are different design cells
            slot = np.array([s.slot for s in stimuli]) + 100_000 * COLOR_TASKS.index(task)
            report["tasks"][task] = color_task_report(scores[task], truth, slot, colors,
                                                      n_resamples)
            pooled.append((choose(scores[task]), truth, slot))
        else:
            report["stroop"] = stroop_report(
                scores["ink"], scores["word"], _indices(colors, [s.ink for s in stimuli]),
                _indices(colors, [s.word for s in stimuli]), [s.pair for s in stimuli],
                colors, n_resamples)
    if pooled:
        pred, truth, slot = (np.concatenate(x) for x in zip(*pooled))
        report["achromatic"] = _achromatic_report(pred, truth, slot, is_achromatic(colors),
                                                  n_resamples)
    report["seconds"] = {k: round(v, 4) for k, v in seconds.items()}
    return report
