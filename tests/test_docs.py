"""The README's two commands (and CI running the second), and the palette file format doc."""

import json
import re
from pathlib import Path

import numpy as np

from colorist.palette import DEFAULT_PALETTE, Palette

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PALETTE_DOC = ROOT / "docs" / "palette-format.md"


def _commands() -> list[str]:
    block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_commands_the_first_on_the_compiled_backend():
    run, tests = _commands()
    # pip install . would leave the source tree's colorist/ (which the demo imports from
    # the repository root) without the extension: the demo ran on the reference.
    assert run.startswith("pip install -e . && ") and "python -m colorist.recolor --batch" in run
    assert tests.endswith("python -m pytest -q")


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _commands()[1] in [line.strip() for line in ci]


def test_palette_format_is_documented_and_linked():
    assert "docs/palette-format.md" in README
    doc = PALETTE_DOC.read_text()
    fields = {k for c in DEFAULT_PALETTE.to_dict()["colors"] for k in c}
    for name in fields | set(DEFAULT_PALETTE.to_dict()["thresholds"]):
        assert f"`{name}`" in doc, name


def test_palette_doc_example_loads_and_recolours():
    example = json.loads(re.search(r"```json\n(.*?)```", PALETTE_DOC.read_text(), re.S)[1])
    palette = Palette.from_dict(example)
    assert palette.names[-1] == "magenta" and palette.canonical("Grizzled") == "gray"
    assert palette.thresholds.black_v_max == 45 and palette["red"].v_box == (110, 215)
    from colorist import recolor

    image = np.full((16, 16, 3), (200, 30, 30), np.uint8)
    mask = np.ones((16, 16), np.uint8)
    out = recolor(image, mask, "red", ["magenta"], palette=palette, backend="reference")
    assert palette.dominant_color(out[0], mask) == "magenta"
