"""Probe reports of several models side by side: report.json, report.md and PNGs.

    write_probe_report("out", {"clip-b32": report_a, "fine-tuned": report_b})

writes ``out/report.json`` (``{"kind": "colorist.probes", "version": 1, "models": {...}}``),
``out/report.md`` (tables with 95% bootstrap intervals), ``out/bars_{task}.png`` (per-colour
accuracy, one bar per model, interval whiskers) and ``out/stroop_{model}.png`` (word x ink
heatmaps). An existing report is replaced only by the same content or with
``overwrite=True``: a report is never lost silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from colorist.eval.report import plot_grouped_bars, pyplot, save_figure
from colorist.io.atomic import atomic_write_text
from colorist.io.names import safe_name

KIND = "colorist.probes"
VERSION = 1
_TASK_TITLES = {"whole": "Whole-image colour", "object": "Object colour",
                "background": "Background colour"}


def _ci(x: dict | None) -> str:
    if x is None:
        return "-"
    return f"{x['value']:.3f} [{x['lo']:.3f}, {x['hi']:.3f}]"


def _p(x: dict | None) -> str:
    return "-" if x is None or x.get("p") is None else f"{x['p']:.3g}"


def file_stems(models) -> dict[str, str]:
    """A distinct file-name-safe stem per model name (hub ids and paths hold slashes;
    "a/b" and "a_b" get "a_b" and "a_b-2")."""
    stems: dict[str, str] = {}
    for m in models:
        stem, k = safe_name(m, "model"), 1
        while stem in stems.values():
            k += 1
            stem = f"{safe_name(m, 'model')}-{k}"
        stems[m] = stem
    return stems


def _cell(text: str) -> str:
    """``text`` safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def read_probe_report(out: str | Path) -> dict | None:
    """The probe report in ``out/report.json``, or None when there is none.

    Raises:
        FileExistsError: ``report.json`` exists but is not a probe report (another
            command's report, or unreadable): it must not be replaced.
    """
    path = Path(out) / "report.json"
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FileExistsError(f"{path}: exists and is not a readable probe report ({e})") \
            from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise FileExistsError(f"{path}: exists and is not a probe report (another command's "
                              "report?); choose another --out")
    return doc


def _check_configs(reports: dict[str, dict]) -> None:
    first, config = None, None
    for model, r in reports.items():
        if config is None:
            first, config = model, r["config"]
        elif r["config"] != config:
            raise ValueError(f"model {model!r} was probed with another config than {first!r}: "
                             "side-by-side reports need one config")


def write_probe_report(out: str | Path, reports: dict[str, dict],
                       overwrite: bool = False) -> Path:
    """Write the report of ``reports`` (model name -> ``ProbeReport``) into ``out``.

    Raises:
        ValueError: no reports, or reports made with different configs.
        FileExistsError: ``out/report.json`` holds other results and ``overwrite`` is False.

    Returns:
        The path of ``report.md``.
    """
    if not reports:
        raise ValueError("no probe reports to write")
    _check_configs(reports)
    out = Path(out)
    doc = json.loads(json.dumps({"kind": KIND, "version": VERSION, "models": reports}))
    old = read_probe_report(out)
    if old is not None and old != doc and not overwrite:
        raise FileExistsError(f"{out / 'report.json'} holds other probe results; choose "
                              "another folder or overwrite")
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Colour probes", "", _config_line(next(iter(reports.values()))["config"]), "",
             "Values: mean [95% bootstrap interval]; p: paired permutation test.", ""]
    lines += _naming_section(out, reports) + _stroop_section(out, reports)
    # not key-sorted: the models stay in the order given (the side-by-side order)
    atomic_write_text(out / "report.json", json.dumps(doc, indent=2) + "\n")
    atomic_write_text(out / "report.md", "\n".join(lines))
    return out / "report.md"


def _config_line(c: dict) -> str:
    return (f"Config: tasks {', '.join(c['tasks'])}; {len(c['colors'])} colours; "
            f"{c['n_per_color']} stimuli per colour and colour task; Stroop repeats "
            f"{c['stroop_repeats']}; {c['image_size']} px; namer margin {c['margin']}; "
            f"seed {c['seed']}.")


def _naming_section(out: Path, reports: dict[str, dict]) -> list[str]:
    tasks = [t for t in _TASK_TITLES if any(t in r["tasks"] for r in reports.values())]
    if not tasks:
        return []
    lines = ["## Colour naming and achromatic bias", "",
             "| model | " + " | ".join(f"{t} accuracy" for t in tasks) + " | achromatic recall "
             "| chromatic recall | achromatic label rate | bias index | p | label ratio |",
             "|---|" + "---:|" * (len(tasks) + 6)]
    for model, r in reports.items():
        a = r.get("achromatic", {})
        ratio = a.get("label_ratio")
        lines.append(f"| {_cell(model)} | " + " | ".join(_ci(r["tasks"].get(t, {}).get("accuracy"))
                                                  for t in tasks)
                     + f" | {_ci(a.get('achromatic_recall'))} | {_ci(a.get('chromatic_recall'))}"
                     f" | {_ci(a.get('achromatic_label_rate'))} | {_ci(a.get('bias_index'))}"
                     f" | {_p(a.get('bias_index'))} | "
                     + ("-" if ratio is None else f"{ratio:.3f}") + " |")
    lines += ["", "Bias index = chromatic recall - achromatic recall (> 0: achromatic "
              "stimuli are named worse), over the colour tasks pooled; label ratio = share "
              "of achromatic labels given / share of achromatic stimuli.", ""]
    for task in tasks:
        lines += _per_color_table(out, task, {m: r["tasks"][task] for m, r in reports.items()
                                              if task in r["tasks"]})
    return lines


def _per_color_table(out: Path, task: str, rows: dict[str, dict]) -> list[str]:
    colors = next(iter(rows.values()))["labels"]
    png = out / f"bars_{task}.png"
    plot_per_color(png, rows, colors, f"{_TASK_TITLES[task]}: accuracy per colour")
    lines = [f"### {_TASK_TITLES[task]}", "",
             "| colour | " + " | ".join(_cell(m) for m in rows) + " |",
             "|---|" + "---:|" * len(rows)]
    lines += [f"| {c} | " + " | ".join(_ci(r["per_color"].get(c)) for r in rows.values()) + " |"
              for c in colors]
    return lines + ["", f"![{task} per colour]({png.name})", ""]


def _stroop_section(out: Path, reports: dict[str, dict]) -> list[str]:
    rows = {m: r["stroop"] for m, r in reports.items() if r.get("stroop")}
    if not rows:
        return []
    keys = ("ink_congruent", "ink_incongruent", "ink_neutral", "word_over_ink", "word_reading",
            "interference", "facilitation")
    lines = ["## Stroop", "", "| model | " + " | ".join(k.replace("_", " ") for k in keys)
             + " | interference p |", "|---|" + "---:|" * (len(keys) + 1)]
    for model, s in rows.items():
        lines.append(f"| {_cell(model)} | " + " | ".join(_ci(s.get(k)) for k in keys)
                     + f" | {_p(s.get('interference'))} |")
    lines += ["", "Ink accuracy: the ink prompts choose the ink; word over ink: incongruent "
              "items on which they choose the word; word reading: the word prompts choose "
              "the word; interference = ink accuracy on the neutral twins of incongruent "
              "items - on those items; facilitation = congruent - their neutral twins.", ""]
    stems = file_stems(rows)
    for model, s in rows.items():
        png = out / f"stroop_{stems[model]}.png"
        plot_stroop(png, s["heatmaps"], s["labels"], model)
        lines += [f"![Stroop heatmaps of {_cell(model)}]({png.name})", ""]
    return lines


def plot_per_color(path: Path, rows: dict[str, dict], colors: list[str], title: str) -> None:
    """Grouped bars (``colorist.eval.report.plot_grouped_bars``): per colour, one bar per
    model with its 95% interval (a colour a model has no result for: no bar)."""
    none = {"value": np.nan, "lo": np.nan, "hi": np.nan}
    bars = {}
    for model, r in rows.items():
        cis = [r["per_color"].get(c) or none for c in colors]
        bars[model] = tuple(np.array([ci[k] for ci in cis], float) for k in ("value", "lo", "hi"))
    plot_grouped_bars(path, bars, list(colors), title)


def plot_stroop(path: Path, heatmaps: dict, colors: list[str], model: str) -> None:
    """Word (rows) x ink (columns): share of items where the ink prompts choose the ink,
    and where they choose the word."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(1.5 + 0.75 * len(colors), 1 + 0.4 * len(colors)),
                             dpi=100, layout="constrained")
    for ax, key, title in zip(axes, ("ink_rate", "word_rate"), ("ink chosen", "word chosen")):
        m = np.array([[np.nan if v is None else v for v in row] for row in heatmaps[key]])
        im = ax.imshow(m, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(colors)), colors, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(colors)), [c.upper() for c in colors], fontsize=7)
        ax.set_xlabel("ink")
        ax.set_ylabel("word")
        ax.set_title(f"{model}: {title}", fontsize=8)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="share of items")
    save_figure(fig, path)
