"""LoRA fine-tuning of CLIP on colour groups (see ``trainer.py``).

Names load on first use, so ``python -m colorist.train --help`` works without the 'train'
extra (torch, transformers, peft) and says how to install it when a run needs it.
"""

from importlib import import_module

from colorist.train.config import TrainConfig

_LAZY = {"GroupBank": "colorist.dataset.bank", "DatasetError": "colorist.dataset.schema",
         "Group": "colorist.dataset.schema", "load_groups": "colorist.dataset.schema",
         "ColorGroupLoss": "colorist.train.loss", "TrainResult": "colorist.train.trainer",
         "train": "colorist.train.trainer"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorist.train' has no attribute {name!r}")


__all__ = ["ColorGroupLoss", "DatasetError", "Group", "GroupBank", "TrainConfig",
           "TrainResult", "load_groups", "train"]
