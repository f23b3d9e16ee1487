"""Colour groups of a built dataset: the dataset's schema lives in
``colorist.dataset.schema`` (beside its writer) and the tensors in ``colorist.dataset.bank``;
these names stay importable from here."""

from colorist.dataset.bank import GroupBank
from colorist.dataset.schema import DatasetError, Group, load_groups

__all__ = ["DatasetError", "Group", "GroupBank", "load_groups"]
