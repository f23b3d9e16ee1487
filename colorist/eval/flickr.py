"""Flickr8k-Expert: correlation of a model's image-caption scores with human judgments.

Inputs are the dataset's standard files: ``ExpertAnnotations.txt`` (tab-separated: image
file, caption id ``<image>#<k>``, three expert scores 1..4), the captions file
``Flickr8k.token.txt`` (``<image>#<k>\\t<caption>``) and the image folder. Each judged
(image, caption) pair gets the model's score: CLIP-S (w = 2.5) for embedding models, the
match probability for BLIP ITM and SigLIP's sigmoid.

Two protocols over the same scores:

* ``thesis`` (the top-level keys): one row per judged pair (5,664 in the full set), human
  value = the mean of its three expert scores; Kendall tau-b and tau-c, Spearman, Pearson.
* ``published`` (CLIPScore, Hessel et al. 2021; PAC-S, Sarto et al. 2023): every expert
  judgment is its own row (3 x 5,664 = 16,992), the model's score repeated for the three;
  the figure papers print is Kendall tau-c x 100 (``scipy.stats.kendalltau(variant="c")``).
  ``PUBLISHED`` holds their values for ViT-B/32, printed beside ours in the report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from colorist.eval.metrics import correlations
from colorist.io import read_image
from colorist.io.images import ImageReadError
from colorist.io.names import UnsafePathError, path_inside
from colorist.models.scorer import CLIP_S_WEIGHT
from colorist.rejects import Reject

# Kendall tau-c x 100 on Flickr8k-Expert, published protocol: CLIP-S and RefCLIP-S with
# CLIP ViT-B/32 (Hessel et al. 2021), PAC-S (Sarto et al. 2023). Printed for comparison.
PUBLISHED = {"CLIP-S": 51.2, "RefCLIP-S": 53.0, "PAC-S": 54.3}
EXPERTS = 3  # expert scores per judged pair


class FlickrFormatError(ValueError):
    """A malformed annotation or captions line (names file and line)."""


def read_captions(path: str | Path) -> dict[str, str]:
    out = {}
    path = Path(path)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, caption = line.partition("\t")
        if not sep or "#" not in key:
            raise FlickrFormatError(f"{path}:{n}: expected '<image>#<k>\\t<caption>'")
        out[key.strip()] = caption.strip()
    return out


def read_expert_judgments(path: str | Path) -> list[tuple[str, str, tuple[float, ...]]]:
    """(image file, caption id, the three expert scores) per judged pair."""
    path = Path(path)
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            if len(parts) != 2 + EXPERTS:
                raise ValueError
            rows.append((parts[0], parts[1], tuple(float(x) for x in parts[2:])))
        except ValueError:
            raise FlickrFormatError(f"{path}:{n}: expected 'image caption_id s1 s2 s3'") \
                from None
    return rows


def read_expert_annotations(path: str | Path) -> list[tuple[str, str, float]]:
    """(image file, caption id, mean expert score) per judged pair (the thesis' rows)."""
    return [(img, cid, float(np.mean(s))) for img, cid, s in read_expert_judgments(path)]


def expert_correlations(scores, judgments) -> dict:
    """Both protocols from per-pair model scores and expert scores.

    Args:
        scores: (P,) model score per judged pair.
        judgments: (P, E) the E expert scores of each pair.

    Returns:
        ``correlations`` of scores vs the mean judgment (the thesis' protocol), with
        ``protocol: "thesis"`` and ``published``: ``correlations`` of the P x E rows (each
        judgment its own row; its ``kendall_tau_c`` is the figure papers print, x 100).
    """
    x = np.asarray(scores, dtype=float)
    h = np.asarray(judgments, dtype=float)
    if h.ndim != 2 or h.shape[0] != x.size:
        raise ValueError(f"{x.size} scores vs judgments of shape {h.shape} (need (P, E))")
    thesis = correlations(x, h.mean(axis=1))
    published = correlations(np.repeat(x, h.shape[1]), h.ravel())
    return {**thesis, "protocol": "thesis", "published": published}


def _chunked(items: list, size: int):
    return (items[i : i + size] for i in range(0, len(items), size))


def _read_chunk(files: list[str], images: Path) -> tuple[list, list[Reject]]:
    """The decoded images of ``files`` (None where unusable) and a Reject for each of those:
    annotation file names are untrusted, so they must stay inside ``images``."""
    out, rejects = [], []
    for f in files:
        try:
            out.append(read_image(path_inside(images, f, f"{images}: image")))
        except (ImageReadError, UnsafePathError) as e:
            out.append(None)
            rejects.append(Reject.from_error(e, image=f))
    return out, rejects


def score_pairs(scorer, pairs: list[tuple[str, str]], images: str | Path,
                batch_size: int = 64, progress: bool | None = None,
                ) -> tuple[np.ndarray, list[Reject]]:
    """The scorer's ``match_pairs`` of (image file, caption) pairs; each image file is read
    and encoded once. Embedding models (``score_kind`` cosine) give CLIP-S instead of the
    cosine: ``2.5 * max(cos, 0)``.

    Returns:
        (P,) float64 scores, NaN for the pairs of an unusable image file, and a Reject per
        such file (missing, unreadable, outside ``images``, over the size limits).
    """
    by_file: dict[str, list[int]] = {}
    for i, (f, _) in enumerate(pairs):
        by_file.setdefault(f, []).append(i)
    from colorist.eval.report import progress as bar

    chunks = bar(list(_chunked(sorted(by_file), batch_size)), f"Flickr8k {scorer.name}",
                 show=progress)
    out = np.full(len(pairs), np.nan)
    rejects: list[Reject] = []
    for files in chunks:
        decoded, bad = _read_chunk(files, Path(images))
        rejects += bad
        files = [f for f, im in zip(files, decoded) if im is not None]
        if not files:
            continue
        img = scorer.image_states(scorer.preprocess([im for im in decoded if im is not None]))
        idx = [i for f in files for i in by_file[f]]
        local = [k for k, f in enumerate(files) for _ in by_file[f]]
        tok = scorer.tokenize([pairs[i][1] for i in idx])
        txt = scorer.text_states(tok["input_ids"], tok.get("attention_mask"))
        out[idx] = scorer.match_pairs(img[local], txt).float().cpu().numpy()
    if getattr(scorer, "score_kind", "cosine") == "cosine":
        out = CLIP_S_WEIGHT * np.clip(out, 0.0, None)
    return out, rejects


def flickr_expert(scorer, annotations: str | Path, captions: str | Path, images: str | Path,
                  batch_size: int = 64, progress: bool | None = None) -> dict:
    """:func:`expert_correlations` of the scorer's scores of every judged pair, with
    ``score`` (what was correlated: "CLIP-S", "itm", "sigmoid") and ``rejects`` (the image
    files skipped, with their reasons; their pairs are left out of both protocols)."""
    judged = read_expert_judgments(annotations)
    texts = read_captions(captions)
    missing = [cid for _, cid, _ in judged if cid not in texts]
    if missing:
        raise FlickrFormatError(f"{captions}: no caption for {missing[0]} "
                                f"({len(missing)} judged captions missing)")
    scores, rejects = score_pairs(scorer, [(f, texts[cid]) for f, cid, _ in judged], images,
                                  batch_size, progress)
    keep = np.isfinite(scores)
    kind = getattr(scorer, "score_kind", "cosine")
    return {**expert_correlations(scores[keep], [s for (_, _, s), k in zip(judged, keep) if k]),
            "score": "CLIP-S" if kind == "cosine" else kind,
            "rejects": [r.to_dict() for r in rejects]}
