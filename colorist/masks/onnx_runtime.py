"""ONNX Runtime sessions for the exported mask models: opened once, checked on open.

A model folder is what ``python -m colorist.masks export`` writes: the ``.onnx`` files, the
tokenizer folders and ``colorist_masks.json``. Every problem (folder or file missing, a
malformed manifest, a model exported for another section, ONNX inputs with other names)
raises ``MaskModelError`` naming the file and what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path

from colorist.io.names import UnsafePathError, path_inside
from colorist.masks.manifest import MANIFEST

EXPORT_HINT = "export it with: python -m colorist.masks export --{flag} MODEL --out {dir}"


class MaskModelError(ValueError):
    """A mask model folder or file that cannot be used; the message names it."""


def available_providers(prefer: str = "auto") -> list[str]:
    """``["CUDAExecutionProvider", "CPUExecutionProvider"]`` when ORT has CUDA and
    ``prefer`` is ``auto`` or ``cuda``; CPU only otherwise."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if prefer == "cuda" and "CUDAExecutionProvider" not in have:
        raise MaskModelError(f"the CUDA provider is not available; ONNX Runtime has {have}")
    if prefer in ("auto", "cuda") and "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def read_manifest(model_dir: str | Path, section: str, flag: str | None = None) -> dict:
    """The manifest entry of ``section`` (``sam``, ``dino``, ``clipseg``)."""
    model_dir = Path(model_dir)
    hint = EXPORT_HINT.format(flag=flag or section, dir=model_dir)
    if not model_dir.is_dir():
        raise MaskModelError(f"mask model folder not found: {model_dir}; {hint}")
    path = model_dir / MANIFEST
    if not path.is_file():
        raise MaskModelError(f"{path} not found: not an exported model folder; {hint}")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise MaskModelError(f"{path}: malformed JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(manifest, dict) or section not in manifest:
        raise MaskModelError(f"{path}: no {section!r} model in this folder; {hint}")
    if not isinstance(manifest[section], dict):
        raise MaskModelError(f"{path}: the {section!r} entry must be an object")
    return manifest[section]


def model_path(model_dir: str | Path, name: object, what: str) -> Path:
    """A file or folder named by the manifest, which must stay inside ``model_dir``.

    Raises:
        MaskModelError: the manifest's name is not a string, is absolute, or leaves the
            folder (``..``, a symlink out).
    """
    try:
        return path_inside(model_dir, name, f"{Path(model_dir) / MANIFEST}: {what}")
    except UnsafePathError as e:
        raise MaskModelError(str(e)) from None


def open_session(path: str | Path, inputs: list[str], providers: list[str] | None = None,
                 threads: int = 0):
    """An ``InferenceSession`` whose inputs are exactly ``inputs`` (in that order)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise MaskModelError(f"model file not found: {path}")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # constant-folding notices are not the user's business
    options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options,
                                       providers=providers or available_providers())
    except Exception as e:  # ORT raises its own Fail/InvalidProtobuf/... types
        raise MaskModelError(f"{path}: ONNX Runtime cannot load it ({e})") from None
    names = [i.name for i in session.get_inputs()]
    if names != list(inputs):
        raise MaskModelError(f"{path}: the model's inputs are {names}, expected {list(inputs)}; "
                             "was it exported by another tool?")
    return session


def load_tokenizer(model_dir: Path, name: str):
    from transformers import AutoTokenizer

    path = model_path(model_dir, name, "tokenizer")
    if not path.is_dir():
        raise MaskModelError(f"tokenizer folder not found: {path}")
    return AutoTokenizer.from_pretrained(str(path))
