"""Probes during fine-tuning (``python -m colorist.train --probe-every N``): every N epochs
(and after the last) the model being trained runs the probe suite (``colorist.probes``) and
the epoch's log row gets ``probes``: the four figures that show whether the achromatic bias
and the Stroop effect move, each ``{"value", "lo", "hi", "n"}`` (95% bootstrap interval
over the suite's items):

    ink_incongruent    Stroop: ink accuracy on incongruent words ("RED" in blue ink)
    word_over_ink      Stroop: incongruent items whose ink prompts choose the word
    achromatic_index   chromatic recall - achromatic recall, pooled over the colour tasks
    color_accuracy     colour naming accuracy, pooled over the colour tasks

The suite is built once (seeded, the same stimuli every time). The scorer is the one the
trainer loaded: peft put the LoRA layers into its model in place, so it scores with the
weights of the moment.
"""

from __future__ import annotations

import numpy as np

# log key -> (report section, entry): where run_probes puts each figure
PROBE_METRICS = {"ink_incongruent": ("stroop", "ink_incongruent"),
                 "word_over_ink": ("stroop", "word_over_ink"),
                 "achromatic_index": ("achromatic", "bias_index")}
PROBE_TITLES = {"ink_incongruent": "ink accuracy, incongruent",
                "word_over_ink": "word-over-ink rate",
                "achromatic_index": "achromatic bias index",
                "color_accuracy": "probe colour accuracy"}


def probe_metrics(report: dict, n_resamples: int = 10000) -> dict:
    """The log's four figures from a ``colorist.probes.run_probes`` report (figures of tasks
    that did not run are left out)."""
    from colorist.probes.run import with_ci

    out = {}
    for key, (section, entry) in PROBE_METRICS.items():
        value = (report.get(section) or {}).get(entry)
        if value is not None:
            out[key] = {k: value[k] for k in ("value", "lo", "hi", "n")}
    # pooled accuracy: every colour-task item, right (the confusion's diagonal) or wrong
    hits = [np.repeat([1.0, 0.0], [np.trace(m), np.sum(m) - np.trace(m)])
            for m in (np.asarray(t["confusion"]) for t in report.get("tasks", {}).values())]
    if hits:
        out["color_accuracy"] = with_ci(np.concatenate(hits), n_resamples)
    return out


class Prober:
    """``Prober(config)(scorer) -> probe_metrics``; ``config``: ``ProbeConfig`` fields."""

    def __init__(self, config: dict, batch_size: int = 64, n_resamples: int = 2000):
        from colorist.probes import ProbeConfig, build_suite

        self.suite = build_suite(ProbeConfig(**config))
        self.batch_size, self.n_resamples = batch_size, n_resamples

    def __call__(self, scorer) -> dict:
        from colorist.probes import run_probes

        report = run_probes(scorer, self.suite, self.batch_size, progress=False,
                            n_resamples=self.n_resamples)
        return probe_metrics(report, self.n_resamples)


def due(every: int, epoch: int, epochs: int) -> bool:
    """Probe after 1-based ``epoch``: every ``every`` epochs and after the last (0: never)."""
    return every > 0 and (epoch % every == 0 or epoch == epochs)


def plot_probes(ax, log: list[dict]) -> None:
    """The probe figures over the epochs, with their intervals, on ``ax``."""
    rows = [r for r in log if r.get("probes")]
    for i, key in enumerate(PROBE_TITLES):
        pts = [(r["epoch"], r["probes"][key]) for r in rows if key in r["probes"]]
        if not pts:
            continue
        x = [e for e, _ in pts]
        ax.plot(x, [p["value"] for _, p in pts], "o-", color=f"C{i}", label=PROBE_TITLES[key])
        ax.fill_between(x, [p["lo"] for _, p in pts], [p["hi"] for _, p in pts],
                        color=f"C{i}", alpha=0.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel("probe figure")
    ax.set_ylim(-1, 1)
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=7)
