"""The reproduction report: measured figures of every model beside the thesis' published
ones (``OUT/report.md``, ``report.json``, ``report.png``), and ``colorist.eval``'s
side-by-side colour report with its confusion matrices in ``OUT/eval/``.

Accuracies carry a 95% percentile-bootstrap interval over the evaluated items
(``colorist.probes.run.with_ci``); the probe rows are ``colorist.train.probing``'s four
figures, and the full probe report of every model is in ``OUT/probes/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from colorist.io.atomic import atomic_write_json, atomic_write_text
from colorist.train.probing import PROBE_TITLES

# The thesis' figures for CLIP ViT-B/32: pretrained -> 10 epochs -> 50 epochs. The thesis
# does not name its Kendall variant; the row is tau-b, scipy's default.
THESIS_MODELS = ("pretrained", "10 epochs", "50 epochs")
THESIS_EPOCHS = (0, 10, 50)
THESIS = {"color_accuracy": (0.63, 0.67, 0.76),
          "complementary_accuracy": (0.524, 0.627, 0.653),
          "flickr_kendall_tau_b": (0.573, 0.505, 0.397)}


def _hits(task: str) -> Callable[[dict], dict | None]:
    """An accuracy with its interval, from the task's per-item predictions."""
    from colorist.probes.run import with_ci

    def get(r: dict) -> dict | None:
        t = r.get(task)
        if not t or not t.get("truth"):
            return None
        return with_ci(np.array(t["predictions"]) == np.array(t["truth"]))

    return get


def _flickr(key: str) -> Callable[[dict], dict | None]:
    def get(r: dict) -> dict | None:
        f = r.get("flickr")
        return None if not f else {"value": f[key], "lo": None, "hi": None, "n": f["n"]}

    return get


def _probe(key: str) -> Callable[[dict], dict | None]:
    def get(r: dict) -> dict | None:
        from colorist.train.probing import probe_metrics

        return probe_metrics(r["probes"]).get(key) if r.get("probes") else None

    return get


# key -> (title, {"value", "lo", "hi", "n"} of one model's results, or None)
METRICS: dict[str, tuple[str, Callable[[dict], dict | None]]] = {
    "color_accuracy": ("colour accuracy (val originals, 8-way)", _hits("color")),
    "complementary_accuracy": ("complementary accuracy (black/gray/white/brown)",
                               _hits("complementary")),
    "flickr_kendall_tau_b": ("Flickr8k-Expert Kendall tau-b", _flickr("kendall_tau_b")),
    "flickr_kendall_tau_c": ("Flickr8k-Expert Kendall tau-c", _flickr("kendall_tau_c")),
    **{f"probe_{k}": (f"probes: {t}", _probe(k)) for k, t in PROBE_TITLES.items()},
}


def summarise(models: dict[str, dict]) -> dict:
    """metric -> {model label -> {"value", "lo", "hi", "n"}} (absent metrics left out)."""
    table: dict[str, dict] = {}
    for key, (_, get) in METRICS.items():
        row = {label: e for label, r in models.items() if (e := get(r)) is not None}
        if row:
            table[key] = row
    return table


def _cell(entry: dict | None) -> str:
    if entry is None:
        return "-"
    ci = f" [{entry['lo']:.3f}, {entry['hi']:.3f}]" if entry.get("lo") is not None else ""
    return f"{entry['value']:.3f}{ci}"


def markdown(table: dict, labels: list[str], stages: dict, probes: bool = False) -> str:
    head = [*labels, *(f"thesis: {m}" for m in THESIS_MODELS)]
    lines = ["# Thesis reproduction", "",
             "Measured (95% bootstrap interval over the evaluated items) beside the thesis' "
             "published figures for CLIP ViT-B/32.", "",
             "| metric | n | " + " | ".join(head) + " |",
             "|---|---:|" + "---:|" * len(head)]
    for key, row in table.items():
        n = next((e["n"] for e in row.values() if e.get("n") is not None), None)
        ref = [f"{x:.3f}" for x in THESIS[key]] if key in THESIS else ["-"] * len(THESIS_MODELS)
        lines.append(f"| {METRICS[key][0]} | {'-' if n is None else n} | "
                     + " | ".join([*(_cell(row.get(m)) for m in labels), *ref]) + " |")
    lines += ["", "Per-colour accuracies and confusion matrices: [eval/report.md]"
              "(eval/report.md)."]
    if probes:
        lines.append("Every probe figure, per-colour bars and Stroop heatmaps: "
                     "[probes/report.md](probes/report.md).")
    lines += ["", "## Stages", "", "| stage | folder | settings hash |", "|---|---|---|"]
    lines += [f"| {s.name} | {s.folder.name}/ | {s.hash} |" for s in stages.values()]
    return "\n".join(lines) + "\n"


def _epochs(label: str) -> int:
    return 0 if label == "pretrained" else int(label.split()[0])


def plot(path: Path, table: dict, labels: list[str]) -> None:
    """One panel per metric that has a thesis figure: measured and published over epochs."""
    from colorist.eval.report import pyplot, save_figure

    keys = [k for k in THESIS if k in table]
    fig, axes = pyplot().subplots(1, max(len(keys), 1), figsize=(4 * max(len(keys), 1), 3.2),
                                  dpi=100, squeeze=False)
    for ax, key in zip(axes[0], keys):
        xs = [_epochs(m) for m in labels if m in table[key]]
        ys = [table[key][m]["value"] for m in labels if m in table[key]]
        ax.plot(xs, ys, "o-", label="measured")
        ax.plot(THESIS_EPOCHS, THESIS[key], "s--", color="C1", label="thesis")
        for x, m in zip(xs, [m for m in labels if m in table[key]]):
            e = table[key][m]
            if e.get("lo") is not None:
                ax.plot([x, x], [e["lo"], e["hi"]], color="C0", alpha=0.5)
        ax.set_title(METRICS[key][0], fontsize=8)
        ax.set_xlabel("epochs")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def write_thesis_report(out: str | Path, models: dict[str, dict], stages: dict,
                        overwrite: bool = False) -> dict:
    """Write the reports; ``models``: label ("pretrained", "<E> epochs") -> its results
    (``colorist.eval.__main__.evaluate``, + ``probes``: a ``run_probes`` report);
    ``stages``: name -> ``StageResult``. ``overwrite``: replace a probe report of other
    results in ``OUT/probes/`` (after ``--rebuild``)."""
    from colorist.eval.report import write_report
    from colorist.probes.report import write_probe_report

    out = Path(out)
    current = _current(out, stages)
    if current is not None:  # a pure function of the stages' results: none of them ran
        return current
    labels = list(models)
    table = summarise(models)
    write_report(out / "eval", {m: {k: r[k] for k in ("color", "complementary", "flickr")
                                    if r.get(k)} for m, r in models.items()})
    probes = {m: r["probes"] for m, r in models.items() if r.get("probes")}
    if probes:
        write_probe_report(out / "probes", probes, overwrite=overwrite)
    data = {"models": labels, "metrics": table,
            "thesis": {"models": list(THESIS_MODELS), **{k: list(v) for k, v in THESIS.items()}},
            "stages": _stage_list(stages)}
    atomic_write_json(out / "report.json", _finite(data))
    atomic_write_text(out / "report.md", markdown(table, labels, stages, bool(probes)))
    plot(out / "report.png", table, labels)
    return data


def _current(out: Path, stages: dict) -> dict | None:
    """The report in ``out`` when no stage ran this time and it is there whole (it was
    written from the same stages' results: their hashes are in it)."""
    if any(not s.skipped for s in stages.values()):
        return None
    if not all((out / f).is_file() for f in ("report.md", "report.png", "report.json")):
        return None
    try:
        data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if data.get("stages") == _stage_list(stages) else None


def _stage_list(stages: dict) -> list[dict]:
    return [{"name": s.name, "folder": s.folder.name, "hash": s.hash} for s in stages.values()]


def _finite(x):
    """NaN (a correlation of constant scores) as null: report.json stays strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x
