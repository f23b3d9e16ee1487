"""The colour-group loss as one module (what torch.compile and DDP wrap).

Each image is scored against its group's captions (the thesis' loss: the captions differ
only in the colour word) with cross-entropy toward its own caption; ``negatives="batch"``
adds every other caption of the batch as a negative. ``pairs_weight > 0`` adds the
symmetric CLIP loss over the batch's originals and their captions (plain image-caption
pairs, to keep general alignment). Losses are means over images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from colorist.train.towers import text_prefix, text_suffix, vision_prefix, vision_suffix


class ColorGroupLoss(nn.Module):
    """``forward(...) -> scalar loss``.

    Inputs: ``vision_in`` is pixels (N, 3, S, S), or the cached hidden states entering vision
    layer ``v_start`` when ``cached``; ``text_in`` likewise (None when not cached);
    ``input_ids``/``attention_mask`` (N, L) the caption of each image; ``group_of`` (N,);
    ``original`` (N,) bool.
    """

    def __init__(self, peft_model, v_start: int, t_start: int, temperature: float = 0.07,
                 learn_temperature: bool = False, negatives: str = "group",
                 pairs_weight: float = 0.0):
        super().__init__()
        if negatives not in ("group", "batch"):
            raise ValueError(f"negatives={negatives!r}: 'group' or 'batch'")
        self.model = peft_model
        self.v_start, self.t_start = v_start, t_start
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)),
                                      requires_grad=learn_temperature)
        self.negatives, self.pairs_weight = negatives, pairs_weight

    @property
    def clip(self):
        return self.model.get_base_model()

    def image_features(self, vision_in, cached: bool = False) -> torch.Tensor:
        """(N, E) normalised, from pixels or cached hidden states."""
        if not cached:
            vision_in = vision_prefix(self.clip, vision_in, self.v_start)
        return F.normalize(vision_suffix(self.clip, vision_in, self.v_start).float(), dim=-1)

    def text_features(self, text_in, input_ids, attention_mask,
                      cached: bool = False) -> torch.Tensor:
        """(N, E) normalised, from token ids or cached hidden states."""
        if not cached:
            text_in = text_prefix(self.clip, input_ids, attention_mask, self.t_start)
        txt = text_suffix(self.clip, text_in, input_ids, attention_mask, self.t_start)
        return F.normalize(txt.float(), dim=-1)

    def features(self, vision_in, text_in, input_ids, attention_mask, cached: bool):
        return (self.image_features(vision_in, cached),
                self.text_features(text_in, input_ids, attention_mask, cached))

    def forward(self, vision_in, text_in, input_ids, attention_mask, group_of, original,
                cached: bool = False):
        img, txt = self.features(vision_in, text_in, input_ids, attention_mask, cached)
        scale = self.log_scale.exp().clamp(max=100.0)
        logits = scale * img @ txt.T
        if self.negatives == "group":
            logits = logits.masked_fill(group_of[:, None] != group_of[None, :], float("-inf"))
        target = torch.arange(logits.shape[0], device=logits.device)
        loss = F.cross_entropy(logits, target)
        if self.pairs_weight:
            pairs = scale * img[original] @ txt[original].T
            t = torch.arange(pairs.shape[0], device=pairs.device)
            loss = loss + self.pairs_weight * 0.5 * (F.cross_entropy(pairs, t)
                                                     + F.cross_entropy(pairs.T, t))
        return loss
