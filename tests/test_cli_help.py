"""Every command line option has help text and shows its default (DESIGN: "help text and
default on every option"), the bench scripts' too."""

import argparse
import importlib

import pytest

from colorist.cli import HelpFormatter

CLIS = {
    "colorist.recolor.__main__": "build_parser",
    "colorist.dataset.__main__": "parser",
    "colorist.train.__main__": "parser",
    "colorist.eval.__main__": "parser",
    "colorist.masks.__main__": "parser",
    "bench.run": "parser",
    "bench.masks": "parser",
    "bench.mining": "parser",
    "bench.train": "parser",
}


def _parsers(parser: argparse.ArgumentParser, name: str):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from _parsers(p, f"{name} {sub}")


def _problems(parser: argparse.ArgumentParser, name: str) -> list[str]:
    problems = []
    formatter = parser._get_formatter()
    if not isinstance(formatter, HelpFormatter):
        problems.append(f"{name}: formatter_class is not colorist.cli.HelpFormatter")
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        flag = "/".join(action.option_strings) or action.dest
        if not (action.help or "").strip():
            problems.append(f"{name} {flag}: no help text")
            continue
        shown = formatter._expand_help(action) if action.help else ""
        has_value = action.option_strings and action.nargs != 0
        if has_value and action.default is not None and "default" not in shown:
            problems.append(f"{name} {flag}: default {action.default!r} not shown")
    return problems


@pytest.mark.parametrize("module", list(CLIS))
def test_every_option_has_help_and_shows_its_default(module):
    if module.startswith("bench."):  # the benchmarks import torch at the top
        pytest.importorskip("torch")
    mod = importlib.import_module(module)
    parser = getattr(mod, CLIS[module])()
    problems = [p for name, sub in _parsers(parser, module) for p in _problems(sub, name)]
    assert not problems, "\n".join(problems)


def test_train_help_shows_the_lora_defaults(capsys):
    from colorist.train.__main__ import parser

    text = parser().format_help()
    for expected in ("LoRA rank r (default: 8)", "(default: 0.0001)", "(default: group)",
                     "(default: openai/clip-vit-base-patch32)"):
        assert expected in " ".join(text.split()), expected
