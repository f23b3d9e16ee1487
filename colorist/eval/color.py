"""The colour-choice task on a built dataset's groups (validation: 8-way; complementary:
4-way black/gray/white/brown).

Each group's original image (never a recolour) is scored (cosine similarity) against the
group's captions, which differ only in the colour word; the choice is right when the best
caption names the image's colour.
"""

from __future__ import annotations

import numpy as np
import torch

from colorist.dataset.bank import GroupBank
from colorist.eval.metrics import (
    accuracy,
    choose,
    confusion_matrix,
    per_class_accuracy,
    score_differences,
)


def choice_report(scores: list[np.ndarray], truth: list[int], labels: list[list[str]],
                  palette: list[str]) -> dict:
    """Accuracy, mean/std of score differences, per-colour accuracy, confusion matrix."""
    pred = choose(scores)
    diffs = score_differences(scores, truth)
    true_c = [lab[t] for lab, t in zip(labels, truth)]
    pred_c = [lab[p] for lab, p in zip(labels, pred)]
    return {
        "n": len(truth),
        "accuracy": accuracy(pred, truth),
        "mean_diff": float(diffs.mean()),
        "std_diff": float(diffs.std()),
        "per_color_accuracy": per_class_accuracy(true_c, pred_c),
        "labels": list(palette),
        "confusion": confusion_matrix(true_c, pred_c, palette).tolist(),
        "predictions": pred_c,
        "truth": true_c,
    }


def _palette(bank: GroupBank) -> list[str]:
    seen: dict[str, None] = {}
    for g in bank.groups:
        seen.update(dict.fromkeys(g.colors))
    return list(seen)


def _report_from_embeddings(img: torch.Tensor, txt: torch.Tensor, bank: GroupBank) -> dict:
    """``img``: (G, D) one row per group's original; ``txt``: (N, D) every caption."""
    scores, truth, labels = [], [], []
    for gi, (g, rows) in enumerate(zip(bank.groups, bank.rows)):
        s = (img[gi : gi + 1] @ txt[rows].T).squeeze(0).float().cpu().numpy()
        scores.append(s)
        truth.append(g.original)
        labels.append(g.colors)
    return choice_report(scores, truth, labels, _palette(bank))


@torch.no_grad()
def color_choice(loss_mod, bank: GroupBank, device, autocast, chunk: int = 128) -> dict:
    """The task with the model being trained (``ColorGroupLoss.features``, LoRA included)."""
    originals = [rows[bank.groups[i].original] for i, rows in enumerate(bank.rows)]
    img_parts, txt_parts = [], []
    for i in range(0, len(originals), chunk):
        with autocast():
            img_parts.append(loss_mod.image_features(
                bank.pixels[originals[i : i + chunk]].to(device)))
    n = len(bank.input_ids)
    for i in range(0, n, chunk):
        ids = bank.input_ids[i : i + chunk].to(device)
        mask = bank.attention_mask[i : i + chunk].to(device)
        with autocast():
            txt_parts.append(loss_mod.text_features(None, ids, mask))
    return _report_from_embeddings(torch.cat(img_parts), torch.cat(txt_parts), bank)


@torch.no_grad()
def color_choice_scorer(scorer, bank: GroupBank, batch_size: int = 64) -> dict:
    """The task with any scorer (HF CLIP, open_clip, a merged fine-tune)."""
    originals = [rows[bank.groups[i].original] for i, rows in enumerate(bank.rows)]
    img = torch.cat([torch.nn.functional.normalize(scorer.image_features(
        bank.pixels[originals[i : i + batch_size]].to(scorer.device)).float(), dim=-1)
        for i in range(0, len(originals), batch_size)])
    captions = [c for g in bank.groups for c in g.captions]
    txt = scorer.encode_texts(captions)
    return _report_from_embeddings(img, txt, bank)
