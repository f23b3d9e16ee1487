"""SigLIP (transformers ``SiglipModel``) as a scorer.

SigLIP is trained with a sigmoid loss on ``logit_scale.exp() * cos + logit_bias``: each pair
is an independent match / no-match decision, so its sigmoid is a calibrated-ish P(match).
Score modes: ``sigmoid`` (default, that probability) and ``cosine``. The sigmoid is a
monotone function of the cosine, so rankings (colour choice, Recall@K, MRR, Kendall tau) are
the same in both modes; score differences and Pearson r are not.

SigLIP's text tower was trained on captions padded to the full context length (64 tokens)
and pools the last position: the tokenizer pads to ``max_length`` (shorter padding changes
the scores). Real checkpoints ship a sentencepiece tokenizer (``pip install sentencepiece``).
"""

from __future__ import annotations

import torch

from colorist.models.scorer import HFScorer


class SiglipScorer(HFScorer):
    """``SiglipModel`` + ``SiglipProcessor``; ``mode`` "sigmoid" or "cosine"."""

    model_class = "SiglipModel"
    modes = ("sigmoid", "cosine")
    padding = "max_length"

    @property
    def score_kind(self) -> str:
        return self.mode

    def text_features(self, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        # SigLIP's text model runs without an attention mask (as in training): the padding
        # tokens are part of its fixed-length input.
        return super().text_features(input_ids, None)

    def _calibrate(self, cos: torch.Tensor) -> torch.Tensor:
        if self.mode == "cosine":
            return cos
        core = self.core
        return torch.sigmoid(cos * core.logit_scale.float().exp() + core.logit_bias.float())

    @torch.no_grad()
    def match(self, image_states: torch.Tensor, text_states: torch.Tensor) -> torch.Tensor:
        return self._calibrate(super().match(image_states, text_states))

    @torch.no_grad()
    def match_pairs(self, image_states: torch.Tensor, text_states: torch.Tensor) -> torch.Tensor:
        return self._calibrate(super().match_pairs(image_states, text_states))
