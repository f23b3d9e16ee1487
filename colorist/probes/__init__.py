"""Colour probes for vision-language models: where does a model fail at colour?

* colour naming of synthetic stimuli (the whole image, an object, the background) in the
  12 basic colours, with the achromatic bias of Arias, Baldrich and Vanrell (2024);
* a Stroop test: colour words in ink colours, congruent, incongruent and neutral.

    from colorist.probes import ProbeConfig, build_suite, run_probes, write_probe_report
    report = run_probes(scorer, ProbeConfig(n_per_color=10, seed=0), batch_size=64)
    write_probe_report("probes-out", {"clip": report})

``python -m colorist.eval probes --model M [--model M2] --out DIR`` runs it from the shell;
docs/probes.md defines every metric.
"""

from importlib import import_module

_LAZY = {
    **dict.fromkeys(["PROBE_COLORS", "ColorSampler", "build_sampler", "is_achromatic"],
                    "colorist.probes.colors"),
    **dict.fromkeys(["COLOR_TASKS", "DEFAULT_PROMPTS", "TASKS", "ProbeConfig"],
                    "colorist.probes.config"),
    **dict.fromkeys(["SHAPES", "shape_polygon"], "colorist.probes.shapes"),
    **dict.fromkeys(["ProbeSuite", "ShapeStimulus", "build_suite", "write_stimuli"],
                    "colorist.probes.stimuli"),
    **dict.fromkeys(["FONTS", "StroopStimulus", "stroop_heatmaps", "stroop_outcomes"],
                    "colorist.probes.stroop"),
    **dict.fromkeys(["achromatic_outcomes", "achromatic_summary", "slot_recalls"],
                    "colorist.probes.achromatic"),
    **dict.fromkeys(["ProbeReport", "color_task_report", "run_probes", "stroop_report"],
                    "colorist.probes.run"),
    **dict.fromkeys(["write_probe_report"], "colorist.probes.report"),
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorist.probes' has no attribute {name!r}")


__all__ = sorted(_LAZY)
