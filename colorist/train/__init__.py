"""LoRA fine-tuning of CLIP on colour groups (see ``trainer.py``)."""

from colorist.dataset.bank import GroupBank
from colorist.dataset.schema import DatasetError, Group, load_groups
from colorist.train.loss import ColorGroupLoss
from colorist.train.trainer import TrainConfig, TrainResult, train

__all__ = ["ColorGroupLoss", "DatasetError", "Group", "GroupBank", "TrainConfig",
           "TrainResult", "load_groups", "train"]
