"""``python -m colorist.train --model M --data DATASET_DIR --out OUT [options]``

Multi-GPU (or multi-process CPU with gloo): ``torchrun --nproc_per_node N -m colorist.train ...``
(only rank 0 writes and prints). Needs the 'train' extra: pip install 'colorist[train]'.
"""

from __future__ import annotations

import argparse
import sys

from colorist.cli import HelpFormatter
from colorist.extras import run_with_extra
from colorist.train.config import TrainConfig


def _blocks(text: str):
    """"k" (positive): the last k blocks; otherwise block indices, e.g. "-1" or "10,11"."""
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected k or indices, e.g. 1 or "
                                         "-2,-1") from None
    return parts[0] if len(parts) == 1 and parts[0] > 0 else parts


def parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m colorist.train", description=__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("--model", default=d.model,
                   help="CLIP to fine-tune: hub id or save_pretrained folder")
    p.add_argument("--data", required=True,
                   help="a built dataset folder (python -m colorist.dataset build)")
    p.add_argument("--wds", action="store_true",
                   help="stream the train groups from DATA/wds/ shards (build --format wds) "
                        "instead of holding them in memory")
    p.add_argument("--out", required=True, help="output folder (adapter, merged model, log)")
    p.add_argument("--blocks", type=_blocks, default=d.blocks,
                   help="k: LoRA on the last k blocks of each tower; or indices, e.g. '-2,-1'")
    p.add_argument("--targets", nargs="+", default=list(d.targets),
                   help="attention projections that get LoRA")
    p.add_argument("--rank", type=int, default=d.rank, help="LoRA rank r")
    p.add_argument("--alpha", type=int, default=d.alpha, help="LoRA alpha (scale alpha / r)")
    p.add_argument("--lora-dropout", type=float, default=d.lora_dropout,
                   help="LoRA dropout (0 allows the frozen-prefix cache)")
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help="AdamW weight decay")
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the train groups")
    p.add_argument("--groups-per-batch", type=int, default=d.groups_per_batch,
                   help="colour groups (of up to 8 variants) per step, over all ranks")
    p.add_argument("--negatives", choices=["group", "batch"], default=d.negatives,
                   help="score each image against its group's captions, or every caption "
                        "of the batch")
    p.add_argument("--temperature", type=float, default=d.temperature,
                   help="softmax temperature of the loss")
    p.add_argument("--learn-temperature", action="store_true",
                   help="learn the temperature (written into logit_scale)")
    p.add_argument("--pairs-weight", type=float, default=d.pairs_weight,
                   help="weight of the symmetric CLIP loss on the batch's originals")
    p.add_argument("--prefix-cache", choices=["auto", "on", "off"], default=d.prefix_cache,
                   help="compute the frozen blocks once (auto: when LoRA dropout is 0)")
    p.add_argument("--compile", choices=["auto", "on", "off"], default=d.compile,
                   help="torch.compile the step (auto: on CUDA)")
    p.add_argument("--no-bf16", action="store_true", help="fp32 on CUDA too")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the shuffle and the LoRA init")
    p.add_argument("--device", help="torch device (default: cuda:LOCAL_RANK if present, else cpu)")
    p.add_argument("--probe-every", type=int, default=d.probe_every,
                   help="run the probe suite (colorist.probes) every N epochs and after the "
                        "last; its figures go into log.jsonl and loss.png (0: never)")
    p.add_argument("--probe-n", type=int, default=d.probes["n_per_color"],
                   help="probe stimuli per colour and colour task")
    p.add_argument("--no-resume", action="store_true", help="ignore OUT/checkpoint.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _config(a: argparse.Namespace) -> TrainConfig:
    return TrainConfig(model=a.model, data=a.data, wds=a.wds, out=a.out, blocks=a.blocks,
                       targets=tuple(a.targets), rank=a.rank, alpha=a.alpha,
                       lora_dropout=a.lora_dropout, lr=a.lr, weight_decay=a.weight_decay,
                       epochs=a.epochs, groups_per_batch=a.groups_per_batch,
                       negatives=a.negatives, temperature=a.temperature,
                       learn_temperature=a.learn_temperature, pairs_weight=a.pairs_weight,
                       prefix_cache=a.prefix_cache, compile=a.compile, bf16=not a.no_bf16,
                       seed=a.seed, device=a.device, resume=not a.no_resume,
                       progress=not a.quiet, probe_every=a.probe_every,
                       probes={**TrainConfig().probes, "n_per_color": a.probe_n})


def _run(cfg: TrainConfig) -> int:
    from colorist.dataset.schema import DatasetError
    from colorist.train.trainer import train

    try:
        result = train(cfg)
    except (DatasetError, FileNotFoundError, ValueError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result.rank == 0:  # under torchrun every rank returns; one report
        last = result.log[-1] if result.log else {}
        print(f"trained {result.epochs} epochs in {result.seconds:.1f} s "
              f"({result.steps_per_s:.1f} steps/s); last epoch: {last} -> {result.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    cfg = _config(parser().parse_args(argv))
    return run_with_extra("train", "train", lambda: _run(cfg))


if __name__ == "__main__":
    sys.exit(main())
