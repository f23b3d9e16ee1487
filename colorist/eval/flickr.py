"""Flickr8k-Expert: correlation of CLIP-S with human judgments.

Inputs are the dataset's standard files: ``ExpertAnnotations.txt`` (tab-separated: image
file, caption id ``<image>#<k>``, three expert scores 1..4), the captions file
``Flickr8k.token.txt`` (``<image>#<k>\\t<caption>``) and the image folder. Each judged
(image, caption) pair gets CLIP-S (w = 2.5) and the mean of its expert scores; the report
gives Kendall tau-b and tau-c, Spearman and Pearson.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from colorist.eval.metrics import correlations
from colorist.io import read_image
from colorist.models.scorer import clip_score


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


def read_expert_annotations(path: str | Path) -> list[tuple[str, str, float]]:
    """(image file, caption id, mean expert score) per judged pair."""
    path = Path(path)
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            rows.append((parts[0], parts[1], float(np.mean([float(x) for x in parts[2:5]]))))
        except (IndexError, ValueError):
            raise FlickrFormatError(f"{path}:{n}: expected 'image caption_id s1 s2 s3'") \
                from None
    return rows


def flickr_expert(scorer, annotations: str | Path, captions: str | Path, images: str | Path,
                  batch_size: int = 64) -> dict:
    """Correlations of the scorer's CLIP-S with the experts' mean score."""
    judged = read_expert_annotations(annotations)
    texts = read_captions(captions)
    missing = [cid for _, cid, _ in judged if cid not in texts]
    if missing:
        raise FlickrFormatError(f"{captions}: no caption for {missing[0]} "
                                f"({len(missing)} judged captions missing)")
    files = sorted({img for img, _, _ in judged})
    img_emb = {}
    for i in range(0, len(files), batch_size):
        chunk = files[i : i + batch_size]
        emb = scorer.encode_images([read_image(Path(images) / f) for f in chunk])
        img_emb.update(zip(chunk, emb))
    txt = scorer.encode_texts([texts[cid] for _, cid, _ in judged])
    img = torch.stack([img_emb[f] for f, _, _ in judged])
    scores = clip_score(img, txt).cpu().numpy()
    return correlations(scores, [h for _, _, h in judged])
