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
from colorist.models.scorer import CLIP_S_WEIGHT

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


def score_pairs(scorer, pairs: list[tuple[str, str]], images: str | Path,
                batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """(P,) the scorer's ``match_pairs`` of (image file, caption) pairs; each image file is
    read and encoded once. Embedding models (``score_kind`` cosine) give CLIP-S instead of the
    cosine: ``2.5 * max(cos, 0)``."""
    by_file: dict[str, list[int]] = {}
    for i, (f, _) in enumerate(pairs):
        by_file.setdefault(f, []).append(i)
    chunks = list(_chunked(sorted(by_file), batch_size))
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc=f"Flickr8k {scorer.name}", unit="batch")
    out = np.empty(len(pairs), dtype=np.float64)
    for files in chunks:
        img = scorer.image_states(scorer.preprocess([read_image(Path(images) / f)
                                                     for f in files]))
        idx = [i for f in files for i in by_file[f]]
        local = [k for k, f in enumerate(files) for _ in by_file[f]]
        tok = scorer.tokenize([pairs[i][1] for i in idx])
        txt = scorer.text_states(tok["input_ids"], tok.get("attention_mask"))
        out[idx] = scorer.match_pairs(img[local], txt).float().cpu().numpy()
    if getattr(scorer, "score_kind", "cosine") == "cosine":
        out = CLIP_S_WEIGHT * np.clip(out, 0.0, None)
    return out


def flickr_expert(scorer, annotations: str | Path, captions: str | Path, images: str | Path,
                  batch_size: int = 64, progress: bool = False) -> dict:
    """:func:`expert_correlations` of the scorer's scores of every judged pair, with
    ``score`` (what was correlated: "CLIP-S", "itm", "sigmoid")."""
    judged = read_expert_judgments(annotations)
    texts = read_captions(captions)
    missing = [cid for _, cid, _ in judged if cid not in texts]
    if missing:
        raise FlickrFormatError(f"{captions}: no caption for {missing[0]} "
                                f"({len(missing)} judged captions missing)")
    scores = score_pairs(scorer, [(f, texts[cid]) for f, cid, _ in judged], images,
                         batch_size, progress)
    kind = getattr(scorer, "score_kind", "cosine")
    return {**expert_correlations(scores, [s for _, _, s in judged]),
            "score": "CLIP-S" if kind == "cosine" else kind}
