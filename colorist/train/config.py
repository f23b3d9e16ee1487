"""The training settings (no torch import: the CLI's --help and defaults read them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from colorist.train.lora import ATTENTION


@dataclass
class TrainConfig:
    model: str = "openai/clip-vit-base-patch32"  # hub id or save_pretrained directory
    data: str | Path = ""  # a built dataset (OUT of `python -m colorist.dataset build`)
    wds: bool = False  # stream the train groups from DATA/wds/ (build --format wds)
    out: str | Path = "colorist-train"
    blocks: int | list[int] = 1  # LoRA on the last k blocks, or explicit block indices
    targets: tuple[str, ...] = ATTENTION
    rank: int = 8
    alpha: int = 16
    lora_dropout: float = 0.0
    lr: float = 1e-4
    weight_decay: float = 0.01
    epochs: int = 10
    groups_per_batch: int = 8  # G groups x (up to) 8 variants per step, over all ranks
    negatives: str = "group"  # "group" (the thesis' loss) or "batch"
    temperature: float = 0.07
    learn_temperature: bool = False
    pairs_weight: float = 0.0  # symmetric CLIP loss on the batch's originals
    prefix_cache: str = "auto"  # "auto" (when the first blocks are frozen), "on", "off"
    compile: str = "auto"  # "auto" (on CUDA), "on", "off"
    bf16: bool = True  # bf16 autocast on CUDA; CPU always trains in fp32
    seed: int = 0
    device: str | None = None
    resume: bool = True
    max_grad_norm: float | None = 1.0
    progress: bool = True
    probe_every: int = 0  # run the probe suite every N epochs and after the last (0: never)
    probes: dict = field(default_factory=lambda: {"n_per_color": 4, "stroop_repeats": 1})
    extra: dict = field(default_factory=dict)
