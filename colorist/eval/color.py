"""The colour-choice task on a built dataset's groups (validation: 8-way; complementary:
4-way black/gray/white/brown), with ranking metrics in both directions.

A group holds one object in K colours: image i (the original or a recolour) and caption i
(the caption with the colour word swapped) show and name colour i. Per group the scorer
gives the (K, K) matrix S[i, j] = score(image i, caption j). For each selected image i
(``images``: the group's ``originals``, its ``recolours`` or ``all``):

* colour choice (the thesis' protocol): right when argmax_j S[i, j] = i;
* text ranking: the true caption i among the K captions of row i (Recall@K, MRR);
* image ranking: the true image i among the K images of column i, i.e. for caption i the
  image of that colour among its colour-swapped versions (Recall@K, MRR).

Per-item values (0/1 correctness, reciprocal ranks) are kept under ``per_item`` with item ids
``<group id>/<colour>`` so that reports can give confidence intervals and compare models
on the same items (``colorist.eval.significance``).
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
    ranking,
    reciprocal_ranks,
    score_differences,
)

IMAGE_SETS = ("originals", "recolours", "all")
RECALL_KS = (1, 2, 3)


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


def _check_images(images: str) -> None:
    if images not in IMAGE_SETS:
        raise ValueError(f"images must be one of {', '.join(IMAGE_SETS)}, got {images!r}")


def selected_images(group, images: str) -> list[int]:
    """Indices of the group's variants the task runs on (``IMAGE_SETS``)."""
    _check_images(images)
    if images == "originals":
        return [group.original]
    if images == "recolours":
        return [i for i in range(len(group.colors)) if i != group.original]
    return list(range(len(group.colors)))


def task_report(mats: list[np.ndarray], bank: GroupBank, images: str = "originals",
                ks=RECALL_KS) -> dict:
    """The colour-choice report of per-group score matrices.

    Args:
        mats: per group, (K, K) float with S[i, j] = score(image i, caption j); rows of images
            that were not scored may be NaN (the image direction then needs every row of
            the selected columns).
        bank: the groups (their colours, originals and ids).
        images: which variants are the items (``IMAGE_SETS``).
        ks: the cut-offs of Recall@K.

    Returns:
        ``choice_report`` plus ``images``, ``ranking`` ({"text": ..., "image": ...}: Recall@K,
        MRR, n; "image" is absent when rows are missing) and ``per_item`` (ids, correct,
        text_rr, image_rr).
    """
    rows, cols, truth, labels, ids = [], [], [], [], []
    for g, m in zip(bank.groups, mats):
        for i in selected_images(g, images):
            rows.append(m[i])
            cols.append(m[:, i])
            truth.append(i)
            labels.append(g.colors)
            ids.append(f"{g.id}/{g.colors[i]}")
    if not truth:
        raise ValueError(f"no {images} images in {len(bank.groups)} groups")
    r = choice_report(rows, truth, labels, _palette(bank))
    r["images"] = images
    r["ranking"] = {"text": ranking(rows, truth, ks)}
    r["per_item"] = {"ids": ids,
                     "correct": [int(p == t) for p, t in zip(r["predictions"], r["truth"])],
                     "text_rr": reciprocal_ranks(rows, truth).tolist()}
    if all(np.isfinite(c).all() for c in cols):
        r["ranking"]["image"] = ranking(cols, truth, ks)
        r["per_item"]["image_rr"] = reciprocal_ranks(cols, truth).tolist()
    return r


def _report_from_embeddings(img: torch.Tensor, txt: torch.Tensor, bank: GroupBank) -> dict:
    """``img``: (G, D) one row per group's original; ``txt``: (N, D) every caption."""
    mats = []
    for gi, (g, rows) in enumerate(zip(bank.groups, bank.rows)):
        m = np.full((len(rows), len(rows)), np.nan)
        m[g.original] = (img[gi : gi + 1] @ txt[rows].T).squeeze(0).float().cpu().numpy()
        mats.append(m)
    return task_report(mats, bank, "originals")


@torch.no_grad()
def color_choice(loss_mod, bank: GroupBank, device, autocast, chunk: int = 128) -> dict:
    """The task with the model being trained (``ColorGroupLoss.features``, LoRA included):
    originals only, cosine of the embeddings (the training-time validation)."""
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


def _chunks(bank: GroupBank, batch_size: int):
    """Consecutive groups whose variants add up to about ``batch_size`` rows."""
    start, size = 0, 0
    for gi, rows in enumerate(bank.rows):
        size += len(rows)
        if size >= batch_size:
            yield range(start, gi + 1)
            start, size = gi + 1, 0
    if start < len(bank.rows):
        yield range(start, len(bank.rows))


@torch.no_grad()
def score_groups(scorer, bank: GroupBank, batch_size: int = 64,
                 progress: bool | None = None) -> list[np.ndarray]:
    """Per group the (K, K) float32 matrix ``scorer.match`` of its images x its captions.

    Images and captions are encoded once, in batches of about ``batch_size`` variants
    (whole groups); a cross-encoder scores the K x K pairs of each group. ``progress``: a
    progress bar (default: when stderr is a terminal).
    """
    from colorist.eval.report import progress as bar

    chunks = bar(list(_chunks(bank, batch_size)), f"scoring {scorer.name}", show=progress)
    mats = []
    for chunk in chunks:
        rows = [r for gi in chunk for r in bank.rows[gi]]
        dev = scorer.device
        img = scorer.image_states(bank.pixels[rows].to(dev))
        txt = scorer.text_states(bank.input_ids[rows].to(dev),
                                 bank.attention_mask[rows].to(dev))
        at = 0
        for gi in chunk:
            k = len(bank.rows[gi])
            mats.append(scorer.match(img[at : at + k], txt[at : at + k]).float().cpu().numpy())
            at += k
    return mats


def color_choice_scorer(scorer, bank: GroupBank, batch_size: int = 64,
                        images: str = "originals", ks=RECALL_KS,
                        progress: bool | None = None) -> dict:
    """The task with any scorer (CLIP, BLIP ITM/ITC, SigLIP, open_clip, a merged fine-tune):
    :func:`task_report` of :func:`score_groups`, plus the scorer's ``score_kind``."""
    _check_images(images)  # before the scoring, not after
    r = task_report(score_groups(scorer, bank, batch_size, progress), bank, images, ks)
    r["score"] = getattr(scorer, "score_kind", "cosine")
    return r
