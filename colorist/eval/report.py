"""Side-by-side reports of several models: report.json, report.md, a confusion-matrix PNG per
model and task, and a per-colour bar chart per task.

Every accuracy and MRR comes with a 95% bootstrap interval over the items, and every pair of
models scored on the same items gets the paired difference (with its bootstrap interval)
and the paired permutation test's two-sided p-value (``colorist.eval.significance``), so a
difference can be told from resampling noise. Flickr8k-Expert is given in both protocols
(the thesis' mean-of-experts rows and the published every-judgment rows, beside the
published reference values).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorist.eval.significance import bootstrap_ci, paired_bootstrap_diff, permutation_test
from colorist.io.atomic import atomic_write_json, atomic_write_text
from colorist.io.names import safe_name


def progress(items, desc: str, unit: str = "batch", show: bool | None = None):
    """``items`` under a tqdm progress bar when ``show`` (default: stderr is a terminal)."""
    if not (show if show is not None else sys.stderr.isatty()):
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` to ``path`` atomically and close it."""
    tmp = path.with_name(path.name + ".tmp" + path.suffix)
    fig.savefig(tmp)
    pyplot().close(fig)
    os.replace(tmp, path)


def plot_confusion(path: Path, confusion: list[list[int]], labels: list[str], title: str):
    plt = pyplot()
    m = np.asarray(confusion, dtype=float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.55 * len(labels), 0.8 + 0.55 * len(labels)), dpi=100)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("chosen colour")
    ax.set_ylabel("true colour")
    ax.set_title(title, fontsize=9)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    save_figure(fig, path)


def _fmt(x) -> str:
    return "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))


def _ci(ci: dict | None) -> str:
    """``0.625 [0.500, 0.750]``."""
    if not ci:
        return "-"
    return f"{ci['mean']:.3f} [{ci['lo']:.3f}, {ci['hi']:.3f}]"


TASKS = (("color", "Colour choice"), ("complementary",
                                      "Complementary colours (black/gray/white/brown)"))
# per-item series of a colour-task result -> (report label, key of its CI)
SERIES = {"correct": "accuracy", "text_rr": "MRR (captions)", "image_rr": "MRR (images)"}


@dataclass
class SignificanceConfig:
    """Resampling of the report's intervals and tests."""

    n_resamples: int = 10000  # bootstrap resamples and permutation sign-flips
    confidence: float = 0.95
    seed: int = 0


def _interval(values, cfg: SignificanceConfig) -> dict:
    mean, lo, hi = bootstrap_ci(values, cfg.n_resamples, cfg.confidence, cfg.seed)
    return {"mean": mean, "lo": lo, "hi": hi}


def add_intervals(r: dict, cfg: SignificanceConfig) -> None:
    """``r["ci"]``: the interval of each per-item series; ``r["per_color_ci"]``: of the
    accuracy of each true colour."""
    items = r.get("per_item") or {}
    r["ci"] = {k: _interval(items[k], cfg) for k in SERIES if items.get(k)}
    if items.get("correct"):
        by_color: dict[str, list[int]] = {}
        for c, ok in zip(r["truth"], items["correct"]):
            by_color.setdefault(c, []).append(ok)
        r["per_color_ci"] = {c: _interval(v, cfg) for c, v in sorted(by_color.items())}


def compare(a: dict, b: dict, cfg: SignificanceConfig) -> dict | None:
    """Paired comparison of two models' results of one task: per series, ``diff`` (a - b),
    ``lo``, ``hi`` and the permutation ``p``; None unless both scored the same items."""
    ia, ib = a.get("per_item") or {}, b.get("per_item") or {}
    if not ia.get("ids") or ia.get("ids") != ib.get("ids"):
        return None
    out = {}
    for k in SERIES:
        if ia.get(k) and ib.get(k):
            d = paired_bootstrap_diff(ia[k], ib[k], cfg.n_resamples, cfg.confidence, cfg.seed)
            out[k] = {**d, "p": permutation_test(ia[k], ib[k], cfg.n_resamples, cfg.seed)}
    return out


def add_comparisons(rows: dict[str, dict], cfg: SignificanceConfig) -> list[tuple]:
    """For every pair of models (a before b): ``rows[a]["compare"][b]`` = ``compare(a, b)``
    (a - b) and the mirror entry in b. Returns (a, b, result) of the comparable pairs."""
    names, pairs = list(rows), []
    todo = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    for a, b in progress(todo, "paired tests", "pair"):
        c = compare(rows[a], rows[b], cfg)
        if c is None:
            continue
        pairs.append((a, b, c))
        rows[a].setdefault("compare", {})[b] = c
        rows[b].setdefault("compare", {})[a] = {
            k: {"diff": -v["diff"], "lo": -v["hi"], "hi": -v["lo"], "p": v["p"]}
            for k, v in c.items()}
    return pairs


def plot_grouped_bars(path: Path, bars: dict[str, tuple], labels: list[str], title: str,
                      ylabel: str = "accuracy") -> None:
    """Grouped bars with error bars: per label, one bar per series.

    Args:
        bars: series name (a model) -> (values, lo, hi), each (len(labels),) (NaN: no bar).
    """
    plt = pyplot()
    width = 0.8 / max(len(bars), 1)
    fig, ax = plt.subplots(figsize=(2 + 0.5 * len(labels) * max(len(bars), 1) ** 0.5, 3.2),
                           dpi=100)
    x = np.arange(len(labels))
    for k, (name, (v, lo, hi)) in enumerate(bars.items()):
        v, lo, hi = (np.asarray(a, dtype=float) for a in (v, lo, hi))
        ax.bar(x + (k - (len(bars) - 1) / 2) * width, v, width,
               yerr=np.nan_to_num(np.stack([v - lo, hi - v])), capsize=2, label=name)
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def plot_per_color(path: Path, rows: dict[str, dict], colors: list[str], title: str) -> None:
    """Per true colour, each model's accuracy with its interval (``per_color_ci``)."""
    bars = {}
    for model, r in rows.items():
        acc = np.array([r["per_color_accuracy"].get(c, np.nan) for c in colors], dtype=float)
        ci = r.get("per_color_ci", {})
        lo = np.array([ci[c]["lo"] if c in ci else a for a, c in zip(acc, colors)])
        hi = np.array([ci[c]["hi"] if c in ci else a for a, c in zip(acc, colors)])
        bars[model] = (acc, lo, hi)
    plot_grouped_bars(path, bars, colors, title)


def _task_lines(task: str, title: str, rows: dict[str, dict], pairs: list[tuple],
                out: Path) -> list[str]:
    colors = sorted({c for r in rows.values() for c in r["per_color_accuracy"]})
    first = next(iter(rows.values()))
    ks = [k for k in first.get("ranking", {}).get("text", {}) if k.startswith("recall@")]
    lines = [f"## {title} ({first.get('images', 'originals')})", "",
             "| model | score | n | accuracy [95% CI] | "
             + " | ".join(f"R@{k.split('@')[1]} captions" for k in ks)
             + " | MRR captions [95% CI] | MRR images [95% CI] | mean diff | std diff |",
             "|---|---|---:|---:|" + "---:|" * len(ks) + "---:|---:|---:|---:|"]
    for model, r in rows.items():
        text = r.get("ranking", {}).get("text", {})
        ci = r.get("ci", {})
        lines.append(f"| {model} | {r.get('score', 'cosine')} | {r['n']} | "
                     f"{_ci(ci.get('correct')) if ci.get('correct') else _fmt(r['accuracy'])} | "
                     + " | ".join(_fmt(text.get(k)) for k in ks)
                     + f" | {_ci(ci.get('text_rr'))} | {_ci(ci.get('image_rr'))} | "
                     f"{r['mean_diff']:.3g} | {r['std_diff']:.3g} |")  # sigmoid diffs are tiny
        png = out / f"confusion_{safe_name(model)}_{task}.png"
        plot_confusion(png, r["confusion"], r["labels"], f"{model}: {task}")
        r["confusion_png"] = png.name
    lines += ["", f"Per-colour accuracy [95% CI] ({task}_per_color.png):", "",
              "| colour | " + " | ".join(rows) + " |", "|---|" + "---:|" * len(rows)]
    for c in colors:
        cells = [_ci(r.get("per_color_ci", {}).get(c)) if r.get("per_color_ci")
                 else _fmt(r["per_color_accuracy"].get(c)) for r in rows.values()]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    plot_per_color(out / f"{task}_per_color.png", rows, colors,
                   f"{title} ({first.get('images', 'originals')})")
    if pairs:
        lines += ["", "Paired differences (same items; a - b, 95% bootstrap CI, paired "
                  "permutation p):", "", "| a | b | metric | a - b [95% CI] | p |",
                  "|---|---|---|---:|---:|"]
        for a, b, c in pairs:
            lines += [f"| {a} | {b} | {SERIES[k]} | {v['diff']:+.3f} [{v['lo']:+.3f}, "
                      f"{v['hi']:+.3f}] | {v['p']:.4f} |" for k, v in c.items()]
    return [*lines, ""]


def _flickr_lines(rows: dict[str, dict]) -> list[str]:
    from colorist.eval.flickr import PUBLISHED

    lines = ["## Flickr8k-Expert", "",
             "Thesis protocol: one row per judged pair, mean of its three expert scores. "
             "Published protocol (CLIPScore, PAC-S): every judgment its own row, Kendall "
             "tau-c x 100.", "",
             "| model | score | thesis n | tau-b | tau-c | Spearman | Pearson | "
             "published n | published tau-c x 100 |", "|---|---|" + "---:|" * 7]
    for m, r in rows.items():
        pub = r.get("published") or {}
        tau_c = pub.get("kendall_tau_c")
        lines.append(f"| {m} | {r.get('score', 'CLIP-S')} | {r['n']} | "
                     f"{_fmt(r['kendall_tau_b'])} | {_fmt(r['kendall_tau_c'])} | "
                     f"{_fmt(r['spearman'])} | {_fmt(r['pearson'])} | {_fmt(pub.get('n'))} | "
                     f"{'-' if tau_c is None else f'{100 * tau_c:.1f}'} |")
    lines += ["", "Published reference values (tau-c x 100, full Flickr8k-Expert): "
              + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items()) + ".", ""]
    skipped = {m: len(r["rejects"]) for m, r in rows.items() if r.get("rejects")}
    if skipped:
        lines += ["Image files skipped (their pairs left out; reasons in rejects.jsonl): "
                  + ", ".join(f"{m} {n}" for m, n in skipped.items()) + ".", ""]
    return lines


def _rejects_lines(results: dict[str, dict]) -> list[str]:
    """rejects.jsonl lines: every task's rejects, with the model and the task."""
    return [json.dumps({"model": m, "task": task, **rej})
            for m, r in results.items() for task, part in r.items()
            if isinstance(part, dict) for rej in part.get("rejects", [])]


def write_report(out: str | Path, results: dict[str, dict],
                 cfg: SignificanceConfig | None = None) -> Path:
    """``results``: model name -> {"color": ..., "complementary": ..., "flickr": ...}
    (each optional). Adds intervals (``ci``, ``per_color_ci``) and paired comparisons
    (``compare``) to the task results and writes report.json (per model: the colour task's
    keys at the top, the other tasks under their names), report.md,
    confusion_<model>_<task>.png, <task>_per_color.png and, when items were skipped,
    rejects.jsonl."""
    cfg = cfg or SignificanceConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Colour evaluation", ""]
    for task, title in TASKS:
        rows = {m: r[task] for m, r in results.items() if r.get(task)}
        if not rows:
            continue
        for r in progress(list(rows.values()), f"{task}: intervals", "model"):
            add_intervals(r, cfg)
        lines += _task_lines(task, title, rows, add_comparisons(rows, cfg), out)
    rows = {m: r["flickr"] for m, r in results.items() if r.get("flickr")}
    if rows:
        lines += _flickr_lines(rows)
    flat = {m: {**r.get("color", {}), **{k: v for k, v in r.items() if k != "color"}}
            for m, r in results.items()}  # per model: accuracy, mean_diff, ... at the top
    atomic_write_json(out / "report.json", flat)
    rejects = _rejects_lines(results)
    if rejects:
        atomic_write_text(out / "rejects.jsonl", "\n".join(rejects) + "\n")
    atomic_write_text(out / "report.md", "\n".join(lines))
    return out / "report.md"
