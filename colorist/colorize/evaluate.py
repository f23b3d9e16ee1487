"""Evaluating a colouriser: the API behind ``python -m colorist.colorize eval``.

Every image is scaled to a long side of ``side`` and colourised (``predict_ab``); its true
ab is compared per pixel with the prediction's and with the grey baseline's (ab = 0):

* ``auc`` / ``auc_rebalanced``: AuC of the ab error CDF, 0-150 (colorize/metrics.py);
* ``naming_agreement``: share of pixels to which the colour namer (colorist/naming.py) gives
  the same basic term in the colourised image as in the original;
* ``clip_color_choice`` (with a scorer, colorist/models/scorer.py): each image's colour is
  the namer's name of the whole original (``region_name``); the scorer picks one of the
  prompts ``"a photo of something {term}"`` over the namer's terms; accuracy on the
  original, the colourisation and the grey input, and how often the colourisation's choice
  equals the original's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from colorist.colorize.bins import nearest_bins
from colorist.colorize.data import ImageListError
from colorist.colorize.decode import DEFAULT_T, lab_to_rgb_u8
from colorist.colorize.metrics import ab_error, auc, class_balance_weights
from colorist.colorize.model import ECCV16
from colorist.colorize.predict import predict_ab
from colorist.eval.metrics import accuracy, choose
from colorist.io.images import read_image
from colorist.recolor.reference import rgb_to_lab
from colorist.rejects import Reject, RejectError

PROMPT = "a photo of something {}"
METHODS = ("model", "grey")


def scale_long_side(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` scaled (area) so that its longer side is at most ``side``."""
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA)


class _Tally:
    """Per-pixel errors and true classes, name agreement counts, images for the scorer."""

    def __init__(self):
        self.err = {m: [] for m in METHODS}
        self.same = dict.fromkeys(METHODS, 0)
        self.classes, self.pixels = [], 0
        self.images = {m: [] for m in (*METHODS, "original")}

    def add(self, rgb, L, ab_true, preds: dict, bins, namer) -> None:
        self.classes.append(nearest_bins(ab_true.reshape(-1, 2), bins, 1)[0][:, 0])
        names = namer.name_pixels(rgb)
        self.pixels += names.size
        self.images["original"].append(rgb)
        for m, ab in preds.items():
            self.err[m].append(ab_error(np.moveaxis(ab, 0, -1), ab_true).ravel())
            out = lab_to_rgb_u8(L, ab)
            self.same[m] += int((namer.name_pixels(out) == names).sum())
            self.images[m].append(out)


def clip_color_choice(scorer, images: dict[str, list[np.ndarray]], namer) -> dict:
    """The scorer's colour choice on each image set against the namer's name of the
    originals (see the module docstring)."""
    terms = list(namer.terms)
    truth = [terms.index(namer.region_name(im)) for im in images["original"]]
    text = scorer.encode_texts([PROMPT.format(t) for t in terms])
    chosen = {k: choose((scorer.encode_images(v) @ text.T).cpu().numpy())
              for k, v in images.items()}
    out = {f"accuracy_{k}": accuracy(c, truth) for k, c in chosen.items()}
    out["agreement_model_original"] = accuracy(chosen["model"], chosen["original"])
    out["agreement_grey_original"] = accuracy(chosen["grey"], chosen["original"])
    return out


def evaluate(model: ECCV16, files: Sequence[Path], T: float = DEFAULT_T, size: int = 256,
             side: int = 256, namer=None, scorer=None, progress: bool = False,
             rejects: list[Reject] | None = None) -> dict:
    """The metrics of the module docstring over ``files`` (unreadable ones are skipped and
    appended to ``rejects``)."""
    from colorist.naming import load_namer

    namer = namer or load_namer()
    bins = model.bins.cpu().numpy()
    tally = _Tally()
    it = files
    if progress:
        from tqdm import tqdm

        it = tqdm(files, desc="eval", unit="img")
    for f in it:
        try:
            rgb = scale_long_side(read_image(f), side)
        except RejectError as e:
            if rejects is not None:
                rejects.append(Reject.from_error(e, image=str(f)))
            continue
        lab = rgb_to_lab(rgb)
        L, (ab,) = predict_ab(model, rgb, (T,), size)
        tally.add(rgb, L, lab[..., 1:], {"model": ab, "grey": np.zeros_like(ab)}, bins, namer)
    if not tally.pixels:
        raise ImageListError(f"no readable image among {len(files)} files")
    w = class_balance_weights(np.concatenate(tally.classes), len(bins))
    result = {"images": len(tally.images["original"]), "T": T, "size": size, "side": side}
    for m in METHODS:
        err = np.concatenate(tally.err[m])
        result[m] = {"auc": auc(err), "auc_rebalanced": auc(err, w),
                     "naming_agreement": tally.same[m] / tally.pixels}
    if scorer is not None:
        result["clip_color_choice"] = clip_color_choice(scorer, tally.images, namer)
    return result
