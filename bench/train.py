"""LoRA training throughput at CLIP ViT-B/32 size (random weights): eager fp32 vs
torch.compile + bf16 vs the frozen-prefix cache.

    python bench/train.py                  # on a GPU: ViT-B/32, 4,000 pairs (500 groups x 8)
    python bench/train.py --size tiny      # CPU smoke run (tiny model)

Each row: train steps/s (G=8 groups x 8 variants = 64 images + 64 captions per step, LoRA
on the last block of both towers, r=8), the epoch time over the pairs, and the projected
time of 50 epochs (cached rows include building the cache once). Prints the table;
``--save`` also writes bench/results/train-<device>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.cli import HelpFormatter  # noqa: E402
from colorist.models.tiny import clip_config  # noqa: E402
from colorist.train.data import Group, GroupBank  # noqa: E402
from colorist.train.lora import apply_lora, resolve_layers  # noqa: E402
from colorist.train.loss import ColorGroupLoss  # noqa: E402
from colorist.train.towers import num_layers  # noqa: E402
from colorist.train.trainer import _Inputs  # noqa: E402


def random_bank(n_groups: int, side: int, vocab: int, eos: int, seq: int = 20) -> GroupBank:
    n = n_groups * 8
    ids = torch.randint(0, eos - 2, (n, seq))
    ids[:, 0], ids[:, -1] = eos - 1, eos
    groups = [Group(str(i), "train", "thing", "red", ["red"] + [f"c{k}" for k in range(7)],
                    [""] * 8, [Path("-")] * 8) for i in range(n_groups)]
    rows = [list(range(8 * g, 8 * g + 8)) for g in range(n_groups)]
    return GroupBank(groups, torch.randn(n, 3, side, side), ids, torch.ones_like(ids),
                     torch.arange(n) // 8, rows, ["red"] * n,
                     torch.arange(n) % 8 == 0)


def measure(size: str, device: torch.device, compiled: bool, bf16: bool, cached: bool,
            n_groups: int, steps: int, warmup: int) -> dict:
    from transformers import CLIPModel

    torch.manual_seed(0)
    cfg = clip_config(size)
    model = CLIPModel(cfg).to(device)
    n_v, n_t = num_layers(model)
    v, t = resolve_layers(n_v, 1), resolve_layers(n_t, 1)
    loss_mod = ColorGroupLoss(apply_lora(model, v, t), v[0], t[0]).to(device)
    bank = random_bank(n_groups, cfg.vision_config.image_size, cfg.text_config.vocab_size,
                       cfg.text_config.eos_token_id)

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    c0 = time.perf_counter()
    inputs = _Inputs(loss_mod, bank, device, cached, autocast)
    sync()
    cache_s = time.perf_counter() - c0 if cached else 0.0
    step_mod = torch.compile(loss_mod) if compiled else loss_mod
    params = [p for p in loss_mod.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    batches = [list(range(i, i + 8)) for i in range(0, n_groups - 7, 8)]

    def step(b):
        with autocast():
            loss = step_mod(*inputs.batch(b), cached=cached)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for i in range(warmup):
        step(batches[i % len(batches)])
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        loss = step(batches[i % len(batches)])
    sync()
    dt = (time.perf_counter() - t0) / steps
    epoch_s = dt * len(batches)
    return {"size": size, "compile": compiled, "bf16": bf16, "prefix_cache": cached,
            "steps_per_s": round(1 / dt, 2), "epoch_s": round(epoch_s, 3),
            "cache_build_s": round(cache_s, 3), "epochs50_s": round(cache_s + 50 * epoch_s, 1),
            "pairs": n_groups * 8, "loss": round(loss.item(), 4)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--size", default=None, choices=["vit-b-32", "tiny"],
                   help="model size (default: vit-b-32 on a GPU, tiny on a CPU)")
    p.add_argument("--groups", type=int, default=500, help="groups of 8 (500 = 4,000 pairs)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per row")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--save", action="store_true",
                   help="write bench/results/train-<device>.json and .md (else only print)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results",
                   help="results folder used with --save")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    size = args.size or ("vit-b-32" if cuda else "tiny")
    configs = [("eager fp32", False, False, False),
               ("compile" + (" + bf16" if cuda else " fp32"), True, cuda, False),
               ("eager fp32 + prefix cache", False, False, True),
               ("compile" + (" + bf16" if cuda else " fp32") + " + prefix cache", True, cuda, True)]
    rows = []
    for name, compiled, bf16, cached in configs:
        r = {"name": name, **measure(size, device, compiled, bf16, cached, args.groups,
                                     args.steps, args.warmup)}
        rows.append(r)
        print(f"{name:<36} {r['steps_per_s']:>8.2f} steps/s  epoch {r['epoch_s']:.3f} s  "
              f"50 epochs {r['epochs50_s']} s", flush=True)
    base = rows[0]
    for r in rows:
        r["speedup_steps"] = round(r["steps_per_s"] / base["steps_per_s"], 2)
        r["speedup_50_epochs"] = round(base["epochs50_s"] / r["epochs50_s"], 2)
    dev = torch.cuda.get_device_name() if cuda else "cpu"
    tag = dev.replace(" ", "-")
    md = [f"# LoRA training on {dev} ({size}, {args.groups * 8} pairs, G=8 x 8)", "",
          "| config | steps/s | x eager | epoch s | 50 epochs s | x eager (50 ep) |",
          "|---|---:|---:|---:|---:|---:|"]
    md += [f"| {r['name']} | {r['steps_per_s']} | {r['speedup_steps']} | {r['epoch_s']} | "
           f"{r['epochs50_s']} | {r['speedup_50_epochs']} |" for r in rows]
    print("\n".join(md))
    if not args.save:
        print("not saved (pass --save to write bench/results/)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"train-{tag}.json").write_text(json.dumps({"device": dev, "rows": rows},
                                                           indent=2))
    (args.out / f"train-{tag}.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
