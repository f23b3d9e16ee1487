"""Training the colouriser: the API behind ``python -m colorist.colorize train``.

    result = train(ColorizeTrainConfig(images="coco/train2017", out="run"))

Per step: a batch of uint8 crops -> ``soft_encode`` on the model's device (the fused Triton
kernel on CUDA) -> ``(L, soft targets)`` -> logits -> class-rebalanced cross-entropy.
Before the first step the ab prior is counted over the training images (one centre crop
each) and stored. Writes ``OUT/prior.npz`` (counts, smoothed prior, class weights),
``OUT/checkpoint.pt`` (every ``checkpoint_every`` steps and at the end; a rerun resumes
from it), ``OUT/log.jsonl``, ``OUT/rejects.jsonl`` (unreadable images, skipped) and
``OUT/model.safetensors``. A rerun with other settings into the same folder is refused.
"""

from __future__ import annotations

import io
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from colorist.colorize.bins import gamut_bins
from colorist.colorize.data import CropDataset, collate, list_images, resize_short, split
from colorist.colorize.encode import SoftEncoding, soft_encode
from colorist.colorize.model import ECCV16, build_model
from colorist.colorize.rebalance import (
    count_nearest,
    rebalance_weights,
    rebalanced_cross_entropy,
    smoothed_prior,
)
from colorist.colorize.weights import save_model
from colorist.io.atomic import append_jsonl, atomic_write_bytes
from colorist.io.images import read_image
from colorist.io.run_config import check_run_config
from colorist.rejects import Reject, RejectError


@dataclass
class ColorizeTrainConfig:
    images: str | Path
    out: str | Path
    coco_json: str | Path | None = None
    model: str = "eccv16"
    steps: int = 10000
    batch_size: int = 32
    crop: int = 176
    resize: int = 256
    lr: float = 3e-4
    weight_decay: float = 1e-3
    k: int = 5
    sigma: float = 5.0
    lam: float = 0.5
    prior_sigma: float = 5.0
    prior_images: int = 2000
    rebalance: bool = True
    grid: int = 10
    val_fraction: float = 0.1
    seed: int = 0
    workers: int = 2
    cache: bool = False  # keep resized images in memory (small datasets, CPU runs)
    device: str | None = None
    compile: str = "auto"  # "auto" (on CUDA), "on", "off"
    bf16: bool = True  # bf16 autocast on CUDA; CPU trains in fp32
    checkpoint_every: int = 500
    progress: bool = True

    def __post_init__(self) -> None:
        if self.crop < 8 or self.crop % 8:
            raise ValueError(f"crop must be a positive multiple of 8, got {self.crop}")
        if self.resize < self.crop:
            raise ValueError(f"resize ({self.resize}) must be at least crop ({self.crop})")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1: {self.steps}, "
                             f"{self.batch_size}")

    def settings(self) -> dict:
        """What changes the trained model (not workers, device, progress or compile)."""
        skip = {"out", "workers", "device", "progress", "compile", "checkpoint_every", "steps",
                "cache"}
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()
                if k not in skip}


@dataclass
class ColorizeTrainResult:
    out: Path
    steps: int
    seconds: float
    steps_per_s: float
    final_loss: float


def _device(cfg: ColorizeTrainConfig) -> torch.device:
    return torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))


def _progress(it, enabled: bool, **kw):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, **kw)


class _Rejects:
    """``OUT/rejects.jsonl``, one line per item (an unreadable image is met every epoch)."""

    def __init__(self, out: Path):
        self.path, self.seen = out / "rejects.jsonl", set()

    def add(self, r: Reject) -> None:
        key = (r.image, r.id, r.reason)
        if key not in self.seen:
            self.seen.add(key)
            append_jsonl(self.path, r.to_dict())


def count_prior(files: list[Path], bins: np.ndarray, cfg: ColorizeTrainConfig,
                out: Path, rejects: _Rejects) -> dict[str, np.ndarray]:
    """Counts of the nearest bins over one centre crop of each of the first
    ``prior_images`` files, the smoothed prior and the class weights; stored in
    ``OUT/prior.npz`` and reused from there."""
    path = out / "prior.npz"
    if path.is_file():
        with np.load(path) as f:
            return dict(f)
    counts = np.zeros(len(bins), np.int64)
    enc = SoftEncoding(1, cfg.sigma, 4)
    for f in _progress(files[: cfg.prior_images], cfg.progress, desc="ab prior", unit="img"):
        try:
            rgb = resize_short(read_image(f), cfg.resize)
        except RejectError as e:
            rejects.add(Reject.from_error(e, image=str(f)))
            continue
        h, w = rgb.shape[:2]
        y, x = (h - cfg.crop) // 2, (w - cfg.crop) // 2
        crop = torch.from_numpy(np.ascontiguousarray(rgb[y : y + cfg.crop, x : x + cfg.crop]))
        _, idx, _ = soft_encode(crop[None], bins, enc, backend="auto")
        counts += count_nearest(idx, len(bins)).numpy()
    prior = smoothed_prior(counts, bins, cfg.prior_sigma)
    stats = {"counts": counts, "prior": prior, "weights": rebalance_weights(prior, cfg.lam)}
    buf = io.BytesIO()
    np.savez(buf, **stats)
    atomic_write_bytes(path, buf.getvalue())
    return stats


def _save_checkpoint(path: Path, model: ECCV16, opt, step: int) -> None:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _resume(path: Path, model: ECCV16, opt, device) -> int:
    if not path.is_file():
        return 0
    state = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    return int(state["step"])


def _batches(dataset: CropDataset, cfg: ColorizeTrainConfig, start: int):
    """Endless batches from one loader: files drawn in seeded random order, epoch after
    epoch (a resumed run draws from a generator seeded with its start step)."""
    sampler = torch.utils.data.RandomSampler(
        dataset, num_samples=max(1, cfg.steps - start) * cfg.batch_size,
        generator=torch.Generator().manual_seed(cfg.seed + start))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
        collate_fn=collate, persistent_workers=cfg.workers > 0,
        generator=torch.Generator().manual_seed(cfg.seed + start))
    yield from loader


def make_step(model: ECCV16, opt, class_weights, enc: SoftEncoding, device, use_bf16: bool,
              compiled: bool):
    """A function ``step(crops) -> loss`` (crops: ``(B, S, S, 3)`` uint8) doing one update;
    the network's forward is ``torch.compile``d when ``compiled``."""
    forward = torch.compile(model) if compiled else model
    bins = model.bins

    def step(crops: torch.Tensor) -> float:
        L, idx, wts = soft_encode(crops.to(device, non_blocking=True), bins, enc)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = forward(L)
        loss = rebalanced_cross_entropy(logits, idx, wts, class_weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def train(cfg: ColorizeTrainConfig) -> ColorizeTrainResult:
    """Train (or resume) a colouriser as the module docstring says."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    check_run_config(out, "colorize_config.json", cfg.settings(), "checkpoint.pt",
                     "use another --out folder")
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = _device(cfg)
    rejects, listed = _Rejects(out), []
    files = list_images(cfg.images, cfg.coco_json, listed)
    for r in listed:
        rejects.add(r)
    train_files, _ = split(files, cfg.val_fraction, cfg.seed)
    bins = gamut_bins(cfg.grid)
    stats = count_prior(train_files, bins, cfg, out, rejects)
    class_weights = (torch.tensor(stats["weights"], dtype=torch.float32, device=device)
                     if cfg.rebalance else None)
    model = build_model(cfg.model, bins).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = _resume(out / "checkpoint.pt", model, opt, device)
    on_cuda = device.type == "cuda"
    step = make_step(model, opt, class_weights, SoftEncoding(cfg.k, cfg.sigma, 4), device,
                     cfg.bf16 and on_cuda, cfg.compile == "on" or (cfg.compile == "auto"
                                                                  and on_cuda))
    dataset = CropDataset(train_files, cfg.crop, cfg.resize, cfg.seed + start, cfg.cache)
    t0, done, loss = time.perf_counter(), start, math.nan
    bar = _progress(range(start, cfg.steps), cfg.progress, desc="train", unit="step",
                    initial=start, total=cfg.steps)
    batches = _batches(dataset, cfg, start)
    for i in bar:
        crops, skipped = next(batches)
        for r in skipped:
            rejects.add(r)
        if crops is None:
            continue
        loss = step(crops)
        done = i + 1
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            append_jsonl(out / "log.jsonl", {"step": done, "loss": loss})
            _save_checkpoint(out / "checkpoint.pt", model, opt, done)
    seconds = time.perf_counter() - t0
    save_model(model.eval(), out / "model.safetensors")
    n = done - start
    return ColorizeTrainResult(out, done, seconds, n / seconds if n else 0.0, loss)
