"""The scorer protocol and its two implementations (transformers CLIP, open_clip)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

CLIP_S_WEIGHT = 2.5  # Hessel et al. 2021, CLIPScore: w * max(cos, 0)


class Scorer(Protocol):
    """What evaluation needs from a CLIP-family model.

    ``preprocess`` and ``tokenize`` turn raw inputs into tensors; ``image_features`` and
    ``text_features`` are the (unnormalised, differentiable) projections the trainer uses;
    ``encode_*`` are the L2-normalised, no-grad embeddings evaluation uses.
    """

    name: str
    device: torch.device

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor: ...
    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]: ...
    def encode_images(self, images: Sequence[Any], batch_size: int = 64) -> torch.Tensor: ...
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor: ...


def _as_pil(image: Any):
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {arr.dtype} {arr.shape}")
    return Image.fromarray(arr)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), dim=-1)


class _Encoding:
    """``encode_images`` / ``encode_texts`` / ``similarity`` / ``clip_score`` on top of
    ``preprocess``, ``tokenize``, ``image_features`` and ``text_features``."""

    device: torch.device

    @torch.no_grad()
    def encode_images(self, images: Sequence[Any], batch_size: int = 64) -> torch.Tensor:
        """(N, D) float32, L2-normalised, on the scorer's device."""
        parts = [_normalise(self.image_features(self.preprocess(images[i : i + batch_size])))
                 for i in range(0, len(images), batch_size)]
        return torch.cat(parts) if parts else torch.empty(0, device=self.device)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """(M, D) float32, L2-normalised, on the scorer's device."""
        parts = [_normalise(self.text_features(**self.tokenize(texts[i : i + batch_size])))
                 for i in range(0, len(texts), batch_size)]
        return torch.cat(parts) if parts else torch.empty(0, device=self.device)

    @staticmethod
    def similarity(image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """(N, M) cosine similarities of normalised embeddings."""
        return image_emb @ text_emb.T

    def clip_score(self, images: Sequence[Any], captions: Sequence[str]) -> torch.Tensor:
        """(N,) CLIP-S of each (image, caption) pair."""
        return clip_score(self.encode_images(images), self.encode_texts(captions))


def clip_score(image_emb: torch.Tensor, text_emb: torch.Tensor,
               w: float = CLIP_S_WEIGHT) -> torch.Tensor:
    """CLIP-S of paired rows: ``w * max(cos(image_i, text_i), 0)``; (N, D) x (N, D) -> (N,)."""
    if image_emb.shape != text_emb.shape:
        raise ValueError(f"paired embeddings differ in shape: {tuple(image_emb.shape)} vs "
                         f"{tuple(text_emb.shape)}")
    cos = (_normalise(image_emb) * _normalise(text_emb)).sum(-1)
    return w * cos.clamp_min(0)


class HFClipScorer(_Encoding):
    """transformers ``CLIPModel`` + its processor (image processor and tokenizer).

    ``model`` may be wrapped by peft: ``image_features`` / ``text_features`` call the CLIP
    model underneath, LoRA layers included.
    """

    def __init__(self, model, processor, name: str = "clip", device: str | None = None):
        self.model, self.processor, self.name = model, processor, name
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()

    @classmethod
    def from_pretrained(cls, name: str | Path, device: str | None = None) -> HFClipScorer:
        from transformers import CLIPModel, CLIPProcessor

        path = Path(name)
        if path.exists() and not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path}: not a save_pretrained directory (no config.json)")
        from colorist.hub import from_pretrained

        model = from_pretrained(CLIPModel.from_pretrained, name)
        processor = from_pretrained(CLIPProcessor.from_pretrained, name, "processor")
        return cls(model, processor, str(name), device)

    @property
    def clip(self):
        """The ``CLIPModel`` (under a peft wrapper if there is one)."""
        model = self.model
        if hasattr(model, "get_base_model"):
            model = model.get_base_model()
        return model

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        """(N, 3, S, S) float32: the model's own CLIP preprocessing (resize, crop, normalise)."""
        out = self.processor.image_processor(images=[_as_pil(im) for im in images],
                                             return_tensors="pt")
        return out["pixel_values"].to(self.device)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask``, (M, L) padded to the longest, truncated at the
        model's context length."""
        out = self.processor.tokenizer(list(texts), padding=True, truncation=True,
                                       max_length=self.clip.config.text_config
                                       .max_position_embeddings, return_tensors="pt")
        return {"input_ids": out["input_ids"].to(self.device),
                "attention_mask": out["attention_mask"].to(self.device)}

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.clip.get_image_features(pixel_values=pixel_values)
        return getattr(out, "pooler_output", out)

    def text_features(self, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        out = self.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        return getattr(out, "pooler_output", out)


class OpenClipScorer(_Encoding):
    """An open_clip model (``hf-hub:org/name`` or ``open_clip:ARCH/PRETRAINED``) with its own
    preprocessing transform and tokenizer."""

    def __init__(self, model, preprocess: Callable, tokenizer: Callable, name: str,
                 device: str | None = None):
        self.model, self._transform, self._tokenizer, self.name = (model, preprocess,
                                                                   tokenizer, name)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()

    @classmethod
    def from_pretrained(cls, name: str, device: str | None = None) -> OpenClipScorer:
        try:
            import open_clip
        except ImportError as e:
            raise ImportError(f"{name}: open_clip models need `pip install open_clip_torch` "
                              f"(and torchvision): {e}", name="open_clip") from e
        if name.startswith("open_clip:"):
            arch, _, pretrained = name.removeprefix("open_clip:").partition("/")
            model, _, transform = open_clip.create_model_and_transforms(
                arch, pretrained=pretrained or None)
            tokenizer = open_clip.get_tokenizer(arch)
        else:
            model, transform = open_clip.create_model_from_pretrained(name)
            tokenizer = open_clip.get_tokenizer(name)
        return cls(model, transform, tokenizer, name, device)

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        return torch.stack([self._transform(_as_pil(im)) for im in images]).to(self.device)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"input_ids": self._tokenizer(list(texts)).to(self.device)}

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixel_values)

    def text_features(self, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
        return self.model.encode_text(input_ids)


# name prefix -> builder; the first matching prefix wins, "" is the default.
SCORER_REGISTRY: dict[str, Callable[..., Any]] = {
    "hf-hub:": OpenClipScorer.from_pretrained,
    "open_clip:": OpenClipScorer.from_pretrained,
    "": HFClipScorer.from_pretrained,
}


def load_scorer(name: str | Path, device: str | None = None):
    """A scorer for a hub id or a local ``save_pretrained`` directory (see the registry)."""
    for prefix, build in SCORER_REGISTRY.items():
        if str(name).startswith(prefix):
            return build(str(name) if prefix else name, device=device)
    raise ValueError(f"no scorer for {name!r}")
