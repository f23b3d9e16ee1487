"""Saving and loading colourisers: our safetensors files and the official released weights.

Ours: ``save_model`` writes the state dict (bin centres included) as safetensors with the
width in its metadata; ``load_model`` rebuilds the network from it.

Official: the authors' PyTorch release (``colorization_release_v2-9b330a0b.pth``, the
``eccv16`` model of github.com/richzhang/colorization) names its layers by position in
``nn.Sequential`` blocks: ``model{i}.{j}`` (a conv at every even j, batch norm last in
blocks 1-7; block 8: deconv, three convs) and ``model_out`` (a 1x1 conv from the 313
probabilities to ab / 110: its weights are the bin centres / 110, in the release's bin
order). ``official_to_ours`` maps those names to ours and reads the bins from ``model_out``.
The file is a pickle: it is read with ``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from colorist.colorize.model import AB_SCALE, CONVS, ECCV16, build_eccv16
from colorist.io.atomic import atomic_write_bytes

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
PARAM_KEYS = ("weight", "bias")


class WeightsError(ValueError):
    """A weights file that does not fit the network (the message names the file and keys)."""


def official_names() -> dict[str, str]:
    """``{official layer prefix: our layer prefix}`` for every layer of ECCV16."""
    names = {}
    for i, n in enumerate(CONVS):
        for j in range(n):
            names[f"model{i + 1}.{2 * j}"] = f"blocks.{i}.convs.{j}"
        names[f"model{i + 1}.{2 * n}"] = f"blocks.{i}.norm"
    names["model8.0"] = "head.up"
    names["model8.2"], names["model8.4"] = "head.convs.0", "head.convs.1"
    names["model8.6"] = "head.classify"
    return names


def official_to_ours(state: dict[str, torch.Tensor], source: str = "state dict"
                     ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Our state dict and the ``(Q, 2)`` bin centres from an official ECCV16 state dict.

    Raises:
        WeightsError: keys missing from ``state`` or left over (all are listed).
    """
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "model_out.weight" not in state:
        raise WeightsError(f"{source}: no 'model_out.weight' (the bin centres): not an "
                           "official ECCV16 state dict")
    bins = state.pop("model_out.weight").detach().float().reshape(2, -1).T * AB_SCALE
    ours, used = {}, set()
    for theirs, mine in official_names().items():
        keys = BN_KEYS if mine.endswith("norm") else PARAM_KEYS
        for key in keys:
            name = f"{theirs}.{key}"
            if name in state:
                ours[f"{mine}.{key}"] = state[name]
                used.add(name)
            elif key != "num_batches_tracked":
                raise WeightsError(f"{source}: missing {name!r}")
    extra = sorted(set(state) - used)
    if extra:
        raise WeightsError(f"{source}: unexpected keys {extra[:8]}")
    return ours, bins


def load_official(path: str | Path, map_location: str = "cpu") -> ECCV16:
    """The paper's network with the released weights (``.pth``, loaded weights-only)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        raise WeightsError(f"{path}: not a loadable .pth state dict "
                           f"({type(e).__name__})") from e
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds a {type(state).__name__}, not a state dict")
    ours, bins = official_to_ours(state, str(path))
    model = build_eccv16(bins.round(), width=1.0)
    ours["bins"] = model.bins
    missing, unexpected = model.load_state_dict(ours, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise WeightsError(f"{path}: shapes fit but keys do not: {missing} {unexpected}")
    return model


def save_model(model: ECCV16, path: str | Path) -> None:
    """Atomic safetensors file of ``model`` (bins included; width in the metadata)."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(state, metadata={"arch": "eccv16",
                                                   "width": repr(model.width)}))


def load_model(path: str | Path, device: str | torch.device = "cpu") -> ECCV16:
    """A network saved by ``save_model``, or an official ``.pth`` (by suffix)."""
    path = Path(path)
    if path.suffix == ".pth":
        return load_official(path).to(device)
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except SafetensorError as e:
        raise WeightsError(f"{path}: not a safetensors file ({e})") from e
    if meta.get("arch") != "eccv16":
        raise WeightsError(f"{path}: not a colorist colouriser (metadata {meta})")
    model = build_eccv16(state["bins"], width=float(meta["width"]))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"{path}: {e}") from e
    return model.to(device)
