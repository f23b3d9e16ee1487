"""Side-by-side reports: report.json, report.md and a confusion-matrix PNG per model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from colorist.io.atomic import atomic_write_json, atomic_write_text
from colorist.io.names import safe_name


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


def write_report(out: str | Path, results: dict[str, dict]) -> Path:
    """``results``: model name -> {"color": ..., "complementary": ..., "flickr": ...}
    (each optional). Writes report.json, report.md, confusion_<model>_<task>.png."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Colour evaluation", ""]
    for task, title in (("color", "Colour choice (validation originals)"),
                        ("complementary", "Complementary colours (black/gray/white/brown)")):
        rows = {m: r[task] for m, r in results.items() if r.get(task)}
        if not rows:
            continue
        colors = sorted({c for r in rows.values() for c in r["per_color_accuracy"]})
        lines += [f"## {title}", "",
                  "| model | n | accuracy | mean diff | std diff | " + " | ".join(colors) + " |",
                  "|---|---:|---:|---:|---:|" + "---:|" * len(colors)]
        for model, r in rows.items():
            per = [_fmt(r["per_color_accuracy"].get(c)) for c in colors]
            lines.append(f"| {model} | {r['n']} | {_fmt(r['accuracy'])} | "
                         f"{_fmt(r['mean_diff'])} | {_fmt(r['std_diff'])} | "
                         + " | ".join(per) + " |")
            png = out / f"confusion_{safe_name(model)}_{task}.png"
            plot_confusion(png, r["confusion"], r["labels"], f"{model}: {task}")
            r["confusion_png"] = png.name
        lines.append("")
    rows = {m: r["flickr"] for m, r in results.items() if r.get("flickr")}
    if rows:
        lines += ["## Flickr8k-Expert (CLIP-S vs mean expert score)", "",
                  "| model | n | Kendall tau-b | Kendall tau-c | Spearman | Pearson |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {m} | {r['n']} | {_fmt(r['kendall_tau_b'])} | {_fmt(r['kendall_tau_c'])}"
                  f" | {_fmt(r['spearman'])} | {_fmt(r['pearson'])} |" for m, r in rows.items()]
        lines.append("")
    flat = {m: {**r.get("color", {}), **{k: v for k, v in r.items() if k != "color"}}
            for m, r in results.items()}  # per model: accuracy, mean_diff, ... at the top
    atomic_write_json(out / "report.json", flat)
    atomic_write_text(out / "report.md", "\n".join(lines))
    return out / "report.md"
