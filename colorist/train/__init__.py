"""LoRA fine-tuning of CLIP on colour groups (see ``trainer.py``)."""

from colorist.train.data import DatasetError, Group, GroupBank, load_groups
from colorist.train.loss import ColorGroupLoss
from colorist.train.trainer import TrainConfig, TrainResult, train

__all__ = ["ColorGroupLoss", "DatasetError", "Group", "GroupBank", "TrainConfig",
           "TrainResult", "load_groups", "train"]
