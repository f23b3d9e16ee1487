"""Achromatic bias: does a model name white, gray and black as readily as hues?

Arias, Baldrich and Vanrell (2024) find that CLIP names chromatic stimuli well but rarely
assigns white, gray or black to achromatic ones. Given 12-way colour choices:

* achromatic recall: accuracy on stimuli whose colour is white, gray or black;
* chromatic recall: accuracy on the other stimuli (brown counts as chromatic);
* achromatic label rate: share of achromatic stimuli that get *some* achromatic term
  (white for a gray stimulus counts: the model saw that it has no hue);
* false achromatic rate: share of chromatic stimuli that get an achromatic term;
* **achromatic bias index** = chromatic recall - achromatic recall, in [-1, 1]: 0 when
  the model names both kinds equally well, > 0 when it fails more on achromatic stimuli
  (the bias Arias et al. report), < 0 for the opposite;
* label ratio = share of all stimuli given an achromatic term / share that are
  achromatic: 1 when the model uses achromatic terms as often as they are true, < 1 when
  it under-uses them.

Functions take colour indices; ``achromatic`` flags which indices are achromatic.
"""

from __future__ import annotations

import numpy as np


def achromatic_outcomes(pred, truth, achromatic) -> dict[str, np.ndarray]:
    """Per-item bool outcomes: ``achromatic_recall`` and ``achromatic_label_rate`` over the
    achromatic stimuli, ``chromatic_recall`` and ``false_achromatic_rate`` over the others.

    Args:
        pred: ``(N,)`` int chosen colour index.
        truth: ``(N,)`` int true colour index.
        achromatic: ``(C,)`` bool, True for the achromatic colours.
    """
    pred, truth = np.asarray(pred, dtype=int), np.asarray(truth, dtype=int)
    achromatic = np.asarray(achromatic, dtype=bool)
    correct, said, was = pred == truth, achromatic[pred], achromatic[truth]
    return {"achromatic_recall": correct[was], "chromatic_recall": correct[~was],
            "achromatic_label_rate": said[was], "false_achromatic_rate": said[~was]}


def achromatic_summary(pred, truth, achromatic) -> dict:
    """The four rates of ``achromatic_outcomes`` (None when their group is empty), the
    ``bias_index``, the ``label_ratio`` and the 2 x 2 ``confusion`` (rows: achromatic,
    chromatic truth; columns: achromatic, chromatic term chosen)."""
    out = {k: (float(v.mean()) if v.size else None)
           for k, v in achromatic_outcomes(pred, truth, achromatic).items()}
    ach, chrom = out["achromatic_recall"], out["chromatic_recall"]
    out["bias_index"] = None if ach is None or chrom is None else chrom - ach
    achromatic = np.asarray(achromatic, dtype=bool)
    said = achromatic[np.asarray(pred, dtype=int)]
    was = achromatic[np.asarray(truth, dtype=int)]
    out["label_ratio"] = float(said.mean() / was.mean()) if was.any() else None
    out["confusion"] = [[int((was & said).sum()), int((was & ~said).sum())],
                        [int((~was & said).sum()), int((~was & ~said).sum())]]
    return out


def slot_recalls(pred, truth, slot, achromatic) -> tuple[np.ndarray, np.ndarray]:
    """Per design slot: ``(chromatic recall, achromatic recall)``, two ``(S,)`` float arrays
    over the slots that hold both kinds of stimuli (sorted by slot id).

    In a crossed design (every colour rendered in every slot) the mean over slots of their
    difference is exactly the bias index, and resampling slots gives its paired bootstrap.
    """
    pred, truth, slot = (np.asarray(a, dtype=int) for a in (pred, truth, slot))
    correct, was = pred == truth, np.asarray(achromatic, dtype=bool)[truth]
    chrom, ach = [], []
    for s in np.unique(slot):
        inside = slot == s
        if (inside & was).any() and (inside & ~was).any():
            chrom.append(correct[inside & ~was].mean())
            ach.append(correct[inside & was].mean())
    return np.array(chrom, dtype=float), np.array(ach, dtype=float)
