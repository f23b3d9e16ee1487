"""BLIP image-text retrieval (transformers ``BlipForImageTextRetrieval``) as a scorer.

Two score modes of one checkpoint (e.g. ``Salesforce/blip-itm-base-coco``):

* ``itm`` (default): the image-text matching head. The caption's tokens cross-attend to the
  image's patch tokens in BLIP's text encoder; the head's 2-way softmax gives P(match), in
  [0, 1]. A cross-encoder: every (image, caption) pair is one forward pass of the fusion
  layers (``match`` runs them in batches of ``pair_batch`` pairs).
* ``itc``: the contrastive head. Cosine of the projected [CLS] embeddings of the image and of
  the caption (text encoder without the image), like CLIP.
"""

from __future__ import annotations

import torch

from colorist.models.scorer import HFScorer


class BlipScorer(HFScorer):
    """``BlipForImageTextRetrieval`` + ``BlipProcessor``; ``mode`` "itm" or "itc"."""

    model_class = "BlipForImageTextRetrieval"
    modes = ("itm", "itc")

    @property
    def score_kind(self) -> str:
        return "itm" if self.mode == "itm" else "cosine"

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, P) ITC image embedding (unnormalised)."""
        tokens = self.core.vision_model(pixel_values=pixel_values).last_hidden_state
        return self.core.vision_proj(tokens[:, 0, :])

    def text_features(self, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(M, P) ITC caption embedding (unnormalised): the text encoder without the image."""
        hidden = self.core.text_encoder(input_ids=input_ids,
                                        attention_mask=attention_mask).last_hidden_state
        return self.core.text_proj(hidden[:, 0, :])

    @torch.no_grad()
    def image_states(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """itc: (N, P) unit embeddings; itm: (N, T, H) the vision encoder's tokens."""
        if self.mode == "itc":
            return super().image_states(pixel_values)
        return self.core.vision_model(pixel_values=pixel_values).last_hidden_state

    @torch.no_grad()
    def text_states(self, input_ids: torch.Tensor,
                    attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """itc: (M, P) unit embeddings; itm: (M, 2, L) the token ids and attention mask
        (the fusion runs per pair, in ``match``)."""
        if self.mode == "itc":
            return super().text_states(input_ids, attention_mask)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return torch.stack([input_ids, attention_mask.to(input_ids.dtype)], dim=1)

    def _itm(self, image_tokens: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B,) P(match) of paired rows: image tokens (B, T, H), ids + mask (B, 2, L)."""
        image_mask = torch.ones(image_tokens.shape[:-1], dtype=torch.long,
                                device=image_tokens.device)
        hidden = self.core.text_encoder(input_ids=text[:, 0], attention_mask=text[:, 1],
                                        encoder_hidden_states=image_tokens,
                                        encoder_attention_mask=image_mask).last_hidden_state
        return self.core.itm_head(hidden[:, 0, :]).float().softmax(-1)[:, 1]

    @torch.no_grad()
    def match_pairs(self, image_states: torch.Tensor, text_states: torch.Tensor) -> torch.Tensor:
        if self.mode == "itc":
            return super().match_pairs(image_states, text_states)
        n = len(image_states)
        parts = [self._itm(image_states[i : i + self.pair_batch],
                           text_states[i : i + self.pair_batch])
                 for i in range(0, n, self.pair_batch)]
        return torch.cat(parts) if parts else torch.empty(0, device=self.device)

    @torch.no_grad()
    def match(self, image_states: torch.Tensor, text_states: torch.Tensor) -> torch.Tensor:
        if self.mode == "itc":
            return super().match(image_states, text_states)
        n, m = len(image_states), len(text_states)
        rows = torch.arange(n, device=image_states.device).repeat_interleave(m)
        cols = torch.arange(m, device=text_states.device).repeat(n)
        out = torch.cat([self._itm(image_states[rows[i : i + self.pair_batch]],
                                   text_states[cols[i : i + self.pair_batch]])
                         for i in range(0, n * m, self.pair_batch)]) if n * m else \
            torch.empty(0, device=self.device)
        return out.view(n, m)
