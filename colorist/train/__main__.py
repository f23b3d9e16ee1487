"""``python -m colorist.train --model M --data DATASET_DIR --out OUT [options]``

Multi-GPU (or multi-process CPU with gloo): ``torchrun --nproc_per_node N -m colorist.train ...``.
"""

from __future__ import annotations

import argparse
import sys

from colorist.dataset.schema import DatasetError
from colorist.train.trainer import TrainConfig, train


def _blocks(text: str):
    """"k" (positive): the last k blocks; otherwise block indices, e.g. "-1" or "10,11"."""
    parts = [int(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 and parts[0] > 0 else parts


def parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m colorist.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=d.model, help="hub id or save_pretrained directory")
    p.add_argument("--data", required=True, help="a built dataset folder")
    p.add_argument("--out", required=True)
    p.add_argument("--blocks", type=_blocks, default=d.blocks,
                   help="k: LoRA on the last k blocks of each tower; or indices, e.g. '-2,-1'")
    p.add_argument("--targets", nargs="+", default=list(d.targets))
    p.add_argument("--rank", type=int, default=d.rank)
    p.add_argument("--alpha", type=int, default=d.alpha)
    p.add_argument("--lora-dropout", type=float, default=d.lora_dropout)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--groups-per-batch", type=int, default=d.groups_per_batch)
    p.add_argument("--negatives", choices=["group", "batch"], default=d.negatives)
    p.add_argument("--temperature", type=float, default=d.temperature)
    p.add_argument("--learn-temperature", action="store_true")
    p.add_argument("--pairs-weight", type=float, default=d.pairs_weight,
                   help="weight of the symmetric CLIP loss on the batch's originals")
    p.add_argument("--prefix-cache", choices=["auto", "on", "off"], default=d.prefix_cache)
    p.add_argument("--compile", choices=["auto", "on", "off"], default=d.compile)
    p.add_argument("--no-bf16", action="store_true", help="fp32 on CUDA too")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device")
    p.add_argument("--no-resume", action="store_true", help="ignore OUT/checkpoint.pt")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    cfg = TrainConfig(model=a.model, data=a.data, out=a.out, blocks=a.blocks,
                      targets=tuple(a.targets), rank=a.rank, alpha=a.alpha,
                      lora_dropout=a.lora_dropout, lr=a.lr, weight_decay=a.weight_decay,
                      epochs=a.epochs, groups_per_batch=a.groups_per_batch,
                      negatives=a.negatives, temperature=a.temperature,
                      learn_temperature=a.learn_temperature, pairs_weight=a.pairs_weight,
                      prefix_cache=a.prefix_cache, compile=a.compile, bf16=not a.no_bf16,
                      seed=a.seed, device=a.device, resume=not a.no_resume,
                      progress=not a.quiet)
    try:
        result = train(cfg)
    except (DatasetError, FileNotFoundError, ValueError, FloatingPointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    last = result.log[-1] if result.log else {}
    print(f"trained {result.epochs} epochs in {result.seconds:.1f} s "
          f"({result.steps_per_s:.1f} steps/s); last epoch: {last} -> {result.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
