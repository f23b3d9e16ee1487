"""LoRA fine-tuning of CLIP on colour groups: the Python API behind ``python -m colorist.train``.

    from colorist.train import TrainConfig, train
    result = train(TrainConfig(model="openai/clip-vit-base-patch32", data="ds", out="run"))

Writes ``OUT/adapter/`` (peft), ``OUT/merged/`` (plain ``CLIPModel`` + processor),
``OUT/log.jsonl``, ``OUT/loss.png``, ``OUT/train_config.json`` and ``OUT/checkpoint.pt``
(each epoch; a rerun resumes from it). Under ``torchrun`` it runs data parallel (DDP; NCCL
on GPUs, gloo on CPU): every rank takes its share of each global batch, gradients are
averaged, rank 0 writes.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from colorist.dataset.bank import GroupBank
from colorist.dataset.schema import DatasetError, load_groups
from colorist.io.atomic import atomic_write_json, atomic_write_text
from colorist.train.config import TrainConfig
from colorist.train.lora import apply_lora, resolve_layers
from colorist.train.loss import ColorGroupLoss
from colorist.train.probing import Prober, due, plot_probes
from colorist.train.towers import num_layers, text_prefix, vision_prefix
from colorist.train.wds_data import WdsGroups, streamed_bank


class CheckpointError(ValueError):
    """A checkpoint file that cannot be resumed from (the message names it)."""


@dataclass
class TrainResult:
    out: Path
    epochs: int
    log: list[dict]
    seconds: float
    steps_per_s: float
    rank: int = 0  # this process's rank under torchrun: only rank 0 reports


def _dist():
    """(rank, world, local_rank), initialising torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def _device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device:
        return torch.device(cfg.device)
    return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


class _Inputs:
    """The tensors one step reads: pixels or cached hidden states, on the device."""

    def __init__(self, loss: ColorGroupLoss, bank: GroupBank, device, cached: bool,
                 autocast, chunk: int = 256):
        self.bank, self.cached = bank, cached
        self.ids = bank.input_ids.to(device)
        self.mask = bank.attention_mask.to(device)
        self.group_of = bank.group_of.to(device)
        self.original = bank.original.to(device)
        if not cached:
            self.vision, self.text = bank.pixels.to(device), None
            return
        clip = loss.clip
        with torch.no_grad(), autocast():
            self.vision = torch.cat([vision_prefix(clip, bank.pixels[i : i + chunk].to(device),
                                                   loss.v_start)
                                     for i in range(0, len(bank.pixels), chunk)])
            self.text = torch.cat([text_prefix(clip, self.ids[i : i + chunk],
                                               self.mask[i : i + chunk], loss.t_start)
                                   for i in range(0, len(self.ids), chunk)])

    def batch(self, group_indices: list[int]):
        rows = torch.tensor([r for g in group_indices for r in self.bank.rows[g]],
                            device=self.ids.device)
        text = self.text[rows] if self.cached else None
        return (self.vision[rows], text, self.ids[rows], self.mask[rows], self.group_of[rows],
                self.original[rows])


def _schedule(n_groups: int, g: int, world: int, epoch: int, seed: int) -> list[list[int]]:
    """Global batches of group indices for one epoch (seeded shuffle; with several ranks,
    the last partial batch is dropped so every rank takes the same number of steps)."""
    order = list(range(n_groups))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    batches = [order[i : i + g] for i in range(0, n_groups, g)]
    if world > 1:
        batches = [b for b in batches if len(b) == g]
        if not batches:
            raise DatasetError(f"{n_groups} training groups cannot fill one batch of {g} "
                               f"groups over {world} ranks")
    return batches


def _shard(batch: list[int], rank: int, world: int) -> list[int]:
    per = len(batch) // world
    return batch[rank * per : (rank + 1) * per] if world > 1 else batch


def _epoch(cfg: TrainConfig, epoch: int, rank: int, world: int, inputs, stream, streamed):
    """``(steps, step inputs)`` of one epoch: batches of the bank in memory, or of groups
    streamed from WebDataset shards (``streamed``: a batch of groups -> step inputs)."""
    if stream is None:
        batches = _schedule(len(inputs.bank), cfg.groups_per_batch, world, epoch, cfg.seed)
        return len(batches), (inputs.batch(_shard(b, rank, world)) for b in batches)
    per_rank = max(1, cfg.groups_per_batch // world)
    return stream.steps(per_rank, world), map(streamed, stream.batches(
        per_rank, epoch, cfg.seed, rank, world))


def train(cfg: TrainConfig) -> TrainResult:
    """Train, checkpoint each epoch, write adapter + merged model + log + loss plot."""
    from colorist.eval.color import color_choice
    from colorist.models import HFClipScorer

    rank, world, local_rank = _dist()
    device = _device(cfg, local_rank)
    out, data = Path(cfg.out), Path(cfg.data)
    _seed_everything(cfg.seed)
    scorer = HFClipScorer.from_pretrained(cfg.model, device=str(device))
    stream = WdsGroups(data, "train") if cfg.wds else None  # streamed, not held in memory
    train_groups = [] if stream else load_groups(data, "train")
    val_groups = _maybe_groups(data, "val")
    clip = scorer.model
    n_v, n_t = num_layers(clip)
    v_layers, t_layers = resolve_layers(n_v, cfg.blocks), resolve_layers(n_t, cfg.blocks)
    peft_model = apply_lora(clip, v_layers, t_layers, cfg.rank, cfg.alpha, cfg.lora_dropout,
                            cfg.targets)
    loss_mod = ColorGroupLoss(peft_model, v_layers[0], t_layers[0], cfg.temperature,
                              cfg.learn_temperature, cfg.negatives, cfg.pairs_weight).to(device)
    on_cuda = device.type == "cuda"
    use_bf16 = cfg.bf16 and on_cuda

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16)

    cached = stream is None and {"auto": cfg.lora_dropout == 0.0, "on": True,
                                 "off": False}[cfg.prefix_cache]
    bank = None if stream else GroupBank.build(scorer, train_groups)
    inputs = None if stream else _Inputs(loss_mod, bank, device, cached, autocast)
    val_bank = GroupBank.build(scorer, val_groups) if val_groups else None
    prober = _prober(cfg, rank)

    params = [p for p in loss_mod.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    log: list[dict] = []
    start_epoch = 0
    ckpt = out / "checkpoint.pt"
    if cfg.resume and ckpt.is_file():
        start_epoch, log = _load_checkpoint(ckpt, loss_mod, opt, device)

    step_mod = loss_mod
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        step_mod = DistributedDataParallel(loss_mod, device_ids=[device.index] if on_cuda
                                           else None)
    if cfg.compile == "on" or (cfg.compile == "auto" and on_cuda):
        step_mod = torch.compile(step_mod)

    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "train_config.json", {**asdict(cfg), "data": str(data),
                                                      "out": str(out), "world": world,
                                                      "prefix_cache": cached,
                                                      "vision_layers": v_layers,
                                                      "text_layers": t_layers})
    t0, steps = time.perf_counter(), 0
    for epoch in range(start_epoch, cfg.epochs):
        loss_mod.train()
        e0, total, n = time.perf_counter(), 0.0, 0
        n_steps, step_inputs = _epoch(cfg, epoch, rank, world, inputs, stream, lambda batch: (
            _Inputs(loss_mod, streamed_bank(scorer, batch), device, False, autocast)
            .batch(list(range(len(batch))))))
        bar = _bar(cfg, rank, n_steps, f"epoch {epoch + 1}/{cfg.epochs}")
        for b, step_input in enumerate(step_inputs):
            with autocast():
                loss = step_mod(*step_input, cached=cached)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch + 1}, step "
                                         f"{b + 1} (lr {cfg.lr}): stopping; the last good "
                                         f"checkpoint is {ckpt}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            total, n, steps = total + loss.item(), n + 1, steps + 1
            if bar:
                bar.update(1)
                bar.set_postfix(loss=f"{total / n:.4f}")
        if bar:
            bar.close()
        row = {"epoch": epoch + 1, "loss": _mean_over_ranks(total / max(n, 1), world, device),
               "steps": n, "seconds": round(time.perf_counter() - e0, 3)}
        if val_bank is not None:
            loss_mod.eval()
            row["val_accuracy"] = color_choice(loss_mod, val_bank, device, autocast)["accuracy"]
        if prober is not None and due(cfg.probe_every, epoch + 1, cfg.epochs):
            loss_mod.eval()
            row["probes"] = prober(scorer)  # the scorer's model holds the LoRA layers
        log.append(row)
        if rank == 0:
            _save_checkpoint(ckpt, epoch + 1, loss_mod, opt, log)
            atomic_write_text(out / "log.jsonl", "".join(json.dumps(r) + "\n" for r in log))
    seconds = time.perf_counter() - t0
    if rank == 0:
        _save_outputs(out, loss_mod, peft_model, scorer, log)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    return TrainResult(out, cfg.epochs, log, seconds, steps / seconds if seconds else 0.0,
                       rank)


def _prober(cfg: TrainConfig, rank: int):
    """The probe suite's runner when ``cfg.probe_every`` (rank 0 only: it writes the log)."""
    if cfg.probe_every < 0:
        raise ValueError(f"probe_every={cfg.probe_every}: must be >= 0 (0: no probes)")
    return Prober(cfg.probes) if cfg.probe_every and rank == 0 else None


def _maybe_groups(data: Path, split: str):
    try:
        return load_groups(data, split)
    except DatasetError:
        return []


def _bar(cfg: TrainConfig, rank: int, total: int, desc: str):
    if not cfg.progress or rank != 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step")


def _mean_over_ranks(value: float, world: int, device) -> float:
    if world == 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], device=device, dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item() / world)


def _trainable_state(loss_mod: ColorGroupLoss) -> dict:
    from peft import get_peft_model_state_dict

    return {"lora": {k: v.detach().cpu() for k, v in
                     get_peft_model_state_dict(loss_mod.model).items()},
            "log_scale": loss_mod.log_scale.detach().cpu()}


def _save_checkpoint(path: Path, epoch: int, loss_mod, opt, log) -> None:
    state = {"epoch": epoch, **_trainable_state(loss_mod), "optimizer": opt.state_dict(),
             "log": log, "torch_rng": torch.get_rng_state()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, loss_mod, opt, device) -> tuple[int, list[dict]]:
    from peft import set_peft_model_state_dict

    # weights_only: the state is tensors, numbers and lists; a planted pickle in OUT must
    # not run code (torch refuses any other object with an UnpicklingError)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, a truncated file, a zip that is not torch's
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise CheckpointError(f"{path}: not a checkpoint this trainer wrote ({why}); move it "
                              "away, or train into a new --out") from None
    set_peft_model_state_dict(loss_mod.model, state["lora"])
    with torch.no_grad():
        loss_mod.log_scale.copy_(state["log_scale"])
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["epoch"]), list(state["log"])


def _save_outputs(out: Path, loss_mod: ColorGroupLoss, peft_model, scorer, log) -> None:
    peft_model.save_pretrained(str(out / "adapter"))
    merged = peft_model.merge_and_unload()
    with torch.no_grad():
        merged.logit_scale.copy_(loss_mod.log_scale.detach().to(merged.logit_scale.device))
    merged.save_pretrained(str(out / "merged"))
    scorer.processor.save_pretrained(str(out / "merged"))
    _plot(out / "loss.png", log)


def _plot(path: Path, log: list[dict]) -> None:
    from colorist.eval.report import pyplot, save_figure

    probed = any(r.get("probes") for r in log)
    fig, axes = pyplot().subplots(1, 1 + probed, figsize=(6 * (1 + probed), 3.5), dpi=100,
                                  squeeze=False)
    ax = axes[0][0]
    if probed:
        plot_probes(axes[0][1], log)
    epochs = [r["epoch"] for r in log]
    ax.plot(epochs, [r["loss"] for r in log], "o-", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if any("val_accuracy" in r for r in log):
        ax2 = ax.twinx()
        ax2.plot(epochs, [r.get("val_accuracy", math.nan) for r in log], "s--", color="C1",
                 label="val colour accuracy")
        ax2.set_ylabel("val colour accuracy")
        ax2.set_ylim(0, 1)
        ax2.legend(handles=[*ax.lines, *ax2.lines], loc="center right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
