"""The scorer protocol, the transformers / open_clip CLIP scorers and the scorer registry.

BLIP (``colorist.models.blip``) and SigLIP (``colorist.models.siglip``) build on the same
base; ``load_scorer`` picks the class from a name prefix (open_clip), the ``model_type`` of
a local ``save_pretrained`` folder's config.json, or the words of a hub id.
"""

from __future__ import annotations

import json
import re
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
    ``encode_*`` are the L2-normalised, no-grad embeddings evaluation uses;
    ``match(image_states(pixels), text_states(ids, mask))`` is the (N, M) score of every pair
    the tasks rank (cosine, SigLIP's sigmoid or BLIP's ITM probability: ``score_kind``).
    """

    name: str
    device: torch.device
    score_kind: str

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor: ...
    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]: ...
    def encode_images(self, images: Sequence[Any], batch_size: int = 64) -> torch.Tensor: ...
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor: ...
    def image_states(self, pixel_values: torch.Tensor) -> torch.Tensor: ...
    def text_states(self, input_ids: torch.Tensor,
                    attention_mask: torch.Tensor | None = None) -> torch.Tensor: ...
    def match(self, image_states: torch.Tensor, text_states: torch.Tensor) -> torch.Tensor: ...
    def match_pairs(self, image_states: torch.Tensor,
                    text_states: torch.Tensor) -> torch.Tensor: ...
    def score(self, images: Sequence[Any], texts: Sequence[str],
              batch_size: int = 64) -> torch.Tensor: ...


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
    """Scoring on top of ``preprocess``, ``tokenize``, ``image_features`` and
    ``text_features``: embeddings (``encode_*``), CLIP-S, and the two-stage score every task
    uses, ``match(image_states(pixels), text_states(ids, mask))``.

    The two stages let a task encode each image and caption once and then score any subset of
    pairs: for an embedding model the states are the L2-normalised embeddings and ``match`` is
    their cosine; a cross-encoder (BLIP's ITM head) keeps the image tokens and the token ids
    and runs its fusion layers in ``match``. ``score_kind`` says what ``match`` returns.
    """

    device: torch.device
    score_kind = "cosine"  # "cosine" | "sigmoid" | "itm" (what match() returns)
    pair_batch = 256  # pairs a cross-encoder scores at once

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

    @torch.no_grad()
    def image_states(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, ...) what ``match`` needs of each preprocessed image; default (N, D) unit
        embeddings."""
        return _normalise(self.image_features(pixel_values))

    @torch.no_grad()
    def text_states(self, input_ids: torch.Tensor,
                    attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(M, ...) what ``match`` needs of each tokenized caption; default (M, D) unit
        embeddings."""
        return _normalise(self.text_features(input_ids, attention_mask))

    @torch.no_grad()
    def match(self, image_states: torch.Tensor, text_states: torch.Tensor) -> torch.Tensor:
        """(N, M) float32 score of every (image, caption) pair; higher = better match."""
        return image_states @ text_states.T

    @torch.no_grad()
    def match_pairs(self, image_states: torch.Tensor, text_states: torch.Tensor) -> torch.Tensor:
        """(N,) score of paired rows (image i with caption i), as ``match`` would give it."""
        return (image_states * text_states).sum(-1)

    @torch.no_grad()
    def score(self, images: Sequence[Any], texts: Sequence[str],
              batch_size: int = 64) -> torch.Tensor:
        """(N, M) ``match`` of raw images ((H, W, 3) uint8 RGB or PIL) and captions, in
        batches of ``batch_size`` images; on CPU."""
        tok = self.tokenize(texts)
        txt = self.text_states(tok["input_ids"], tok.get("attention_mask"))
        rows = [self.match(self.image_states(self.preprocess(images[i : i + batch_size])), txt)
                .float().cpu() for i in range(0, len(images), batch_size)]
        return torch.cat(rows) if rows else torch.empty(0, len(texts))


def clip_score(image_emb: torch.Tensor, text_emb: torch.Tensor,
               w: float = CLIP_S_WEIGHT) -> torch.Tensor:
    """CLIP-S of paired rows: ``w * max(cos(image_i, text_i), 0)``; (N, D) x (N, D) -> (N,)."""
    if image_emb.shape != text_emb.shape:
        raise ValueError(f"paired embeddings differ in shape: {tuple(image_emb.shape)} vs "
                         f"{tuple(text_emb.shape)}")
    cos = (_normalise(image_emb) * _normalise(text_emb)).sum(-1)
    return w * cos.clamp_min(0)


def _device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def _check_complete(name, model_class: str, missing) -> None:
    """transformers initialises weights a checkpoint lacks at random (a BLIP captioning
    checkpoint loaded for retrieval has no ITM head): scores would look plausible and mean
    nothing, so that is an error."""
    if missing:
        keys = sorted(missing)
        raise ValueError(f"{name}: not a {model_class} checkpoint, {len(keys)} weights missing "
                         f"({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''}); they "
                         f"would be random")


class HFScorer(_Encoding):
    """A transformers model + its processor (image processor and tokenizer), loaded by hub id
    or ``save_pretrained`` folder. Subclasses name the model class and their score modes.

    ``model`` may be wrapped by peft: ``core`` is the model underneath, LoRA layers included.
    """

    model_class = "CLIPModel"  # a transformers class name
    modes: tuple[str, ...] = ("cosine",)  # the first is the default
    padding: bool | str = True  # "max_length" for models trained on fixed-length text

    def __init__(self, model, processor, name: str = "clip", device: str | None = None,
                 mode: str | None = None):
        if (mode or self.modes[0]) not in self.modes:
            raise ValueError(f"{name}: unknown score mode {mode!r} for {type(self).__name__} "
                             f"(one of {', '.join(self.modes)})")
        self.model, self.processor, self.name = model, processor, name
        self.mode = mode or self.modes[0]
        self.device = _device(device)
        self.model.to(self.device).eval()

    @classmethod
    def from_pretrained(cls, name: str | Path, device: str | None = None,
                        mode: str | None = None) -> HFScorer:
        import transformers

        from colorist.hub import from_pretrained

        path = Path(name)
        if path.exists() and not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path}: not a save_pretrained directory (no config.json)")
        load = getattr(transformers, cls.model_class).from_pretrained
        model, info = from_pretrained(lambda n: load(n, output_loading_info=True), name)
        _check_complete(name, cls.model_class, info["missing_keys"])
        processor = from_pretrained(transformers.AutoProcessor.from_pretrained, name,
                                    "processor")
        return cls(model, processor, str(name), device, mode)

    @property
    def core(self):
        """The transformers model (under a peft wrapper if there is one)."""
        model = self.model
        if hasattr(model, "get_base_model"):
            model = model.get_base_model()
        return model

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        """(N, 3, S, S) float32: the model's own preprocessing (resize, crop, normalise)."""
        out = self.processor.image_processor(images=[_as_pil(im) for im in images],
                                             return_tensors="pt")
        return out["pixel_values"].to(self.device)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask``, (M, L): padded as the model was trained
        (``padding``), truncated at the model's context length."""
        length = self.core.config.text_config.max_position_embeddings
        out = self.processor.tokenizer(list(texts), padding=self.padding, truncation=True,
                                       max_length=length, return_tensors="pt")
        ids = out["input_ids"]
        mask = out.get("attention_mask")  # SigLIP's sentencepiece tokenizer gives none
        return {"input_ids": ids.to(self.device),
                "attention_mask": (torch.ones_like(ids) if mask is None else mask)
                .to(self.device)}

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, P) projected image embedding (unnormalised, differentiable)."""
        out = self.core.get_image_features(pixel_values=pixel_values)
        return getattr(out, "pooler_output", out)

    def text_features(self, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(M, P) projected caption embedding (unnormalised, differentiable)."""
        out = self.core.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        return getattr(out, "pooler_output", out)


class HFClipScorer(HFScorer):
    """transformers ``CLIPModel``: cosine of the projected embeddings."""

    @property
    def clip(self):
        """The ``CLIPModel`` (under a peft wrapper if there is one)."""
        return self.core


# CLIPS (UCSC-VLAA) as a word of an open_clip name; "CLIPSeg" is another model.
_CLIPS_NAME = re.compile(r"(?<![a-z])clips(?![a-z])", re.IGNORECASE)
CLIPS_MIN_OPEN_CLIP = "3.0"  # the first open_clip with tokenizer_mode="clips"


def is_clips(name: str) -> bool:
    """Whether an open_clip name is a CLIPS checkpoint (needs ``tokenizer_mode='clips'``)."""
    return bool(_CLIPS_NAME.search(name))


def _tokenizer_kwargs(open_clip, name: str) -> dict:
    """CLIPS's text tower was trained on its own tokenisation: the default open_clip
    tokenizer gives ids the model reads without error into meaningless scores."""
    if not is_clips(name):
        return {}
    from packaging.version import InvalidVersion, Version

    have = getattr(open_clip, "__version__", "0")
    try:
        ok = Version(have) >= Version(CLIPS_MIN_OPEN_CLIP)
    except InvalidVersion:
        ok = False
    if not ok:
        raise ImportError(f"{name}: CLIPS needs open_clip >= {CLIPS_MIN_OPEN_CLIP} (its "
                          f"tokenizer_mode='clips'), found {have}: pip install "
                          f"'colorist[clips]'", name="open_clip")
    return {"tokenizer_mode": "clips"}


class OpenClipScorer(_Encoding):
    """An open_clip model (``hf-hub:org/name`` or ``open_clip:ARCH/PRETRAINED``) with its own
    preprocessing transform and tokenizer (CLIPS: ``tokenizer_mode='clips'``)."""

    def __init__(self, model, preprocess: Callable, tokenizer: Callable, name: str,
                 device: str | None = None):
        self.model, self._transform, self._tokenizer, self.name = (model, preprocess,
                                                                   tokenizer, name)
        self.device = _device(device)
        self.model.to(self.device).eval()

    @classmethod
    def from_pretrained(cls, name: str, device: str | None = None,
                        mode: str | None = None) -> OpenClipScorer:
        if mode not in (None, "cosine"):
            raise ValueError(f"{name}: open_clip models score by cosine, not {mode!r}")
        try:
            import open_clip
        except ImportError as e:
            raise ImportError(f"{name}: open_clip models need `pip install open_clip_torch` "
                              f"(and torchvision): {e}", name="open_clip") from e
        kwargs = _tokenizer_kwargs(open_clip, name)
        if name.startswith("open_clip:"):
            arch, _, pretrained = name.removeprefix("open_clip:").partition("/")
            model, _, transform = open_clip.create_model_and_transforms(
                arch, pretrained=pretrained or None)
            tokenizer = open_clip.get_tokenizer(arch, **kwargs)
        else:
            model, transform = open_clip.create_model_from_pretrained(name)
            tokenizer = open_clip.get_tokenizer(name, **kwargs)
        return cls(model, transform, tokenizer, name, device)

    def preprocess(self, images: Sequence[Any]) -> torch.Tensor:
        return torch.stack([self._transform(_as_pil(im)) for im in images]).to(self.device)

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return {"input_ids": self._tokenizer(list(texts)).to(self.device)}

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixel_values)

    def text_features(self, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
        return self.model.encode_text(input_ids)


def _blip(name, device=None, mode=None):
    from colorist.models.blip import BlipScorer

    return BlipScorer.from_pretrained(name, device=device, mode=mode)


def _siglip(name, device=None, mode=None):
    from colorist.models.siglip import SiglipScorer

    return SiglipScorer.from_pretrained(name, device=device, mode=mode)


# transformers config.json model_type -> builder(name, device=, mode=)
MODEL_TYPE_REGISTRY: dict[str, Callable[..., Any]] = {
    "clip": HFClipScorer.from_pretrained,
    "blip": _blip,
    "siglip": _siglip,
}
# words of a hub id -> model_type, first match wins (hub ids are not read before loading)
HUB_ID_RULES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"siglip2", re.IGNORECASE), "siglip2"),
    (re.compile(r"siglip", re.IGNORECASE), "siglip"),
    (re.compile(r"blip", re.IGNORECASE), "blip"),
]
# score modes a name may carry as a suffix: "Salesforce/blip-itm-base-coco@itc"
SCORE_MODES = ("cosine", "sigmoid", "itm", "itc")


def model_type(name: str | Path) -> str:
    """The transformers ``model_type`` of a local folder (its config.json) or, for a hub id,
    from its words (``HUB_ID_RULES``; default ``clip``)."""
    path = Path(name)
    if path.exists():
        config = path / "config.json"
        if not config.is_file():
            raise FileNotFoundError(f"{path}: not a save_pretrained directory (no config.json)")
        try:
            found = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (json.JSONDecodeError, AttributeError) as e:
            raise ValueError(f"{config}: not a transformers config ({e})") from None
        if not isinstance(found, str):
            raise ValueError(f"{config}: no model_type")
        return found
    return next((t for rule, t in HUB_ID_RULES if rule.search(str(name))), "clip")


def _build_transformers(name: str | Path, device=None, mode=None):
    kind = model_type(name)
    if kind not in MODEL_TYPE_REGISTRY:
        raise ValueError(f"{name}: no scorer for model_type {kind!r} (known: "
                         f"{', '.join(MODEL_TYPE_REGISTRY)})")
    return MODEL_TYPE_REGISTRY[kind](name, device=device, mode=mode)


# name prefix -> builder(name, device=, mode=); the first matching prefix wins, "" is the
# default (transformers, dispatched by model_type).
SCORER_REGISTRY: dict[str, Callable[..., Any]] = {
    "hf-hub:": OpenClipScorer.from_pretrained,
    "open_clip:": OpenClipScorer.from_pretrained,
    "": _build_transformers,
}


def split_mode(name: str | Path) -> tuple[str | Path, str | None]:
    """``"model@itc"`` -> ``("model", "itc")`` when the suffix is a score mode; else
    ``(name, None)``."""
    base, sep, mode = str(name).rpartition("@")
    if sep and mode in SCORE_MODES:
        return (base if isinstance(name, str) else Path(base)), mode
    return name, None


def load_scorer(name: str | Path, device: str | None = None, mode: str | None = None):
    """A scorer for a hub id, a local ``save_pretrained`` folder or an open_clip name.

    Args:
        name: e.g. ``openai/clip-vit-base-patch32``, ``Salesforce/blip-itm-base-coco``,
            ``google/siglip-base-patch16-224``, ``hf-hub:UCSC-VLAA/ViT-L-14-CLIPS-...``, a
            folder; an ``@MODE`` suffix selects the score mode (below).
        device: torch device (default: cuda if present, else cpu).
        mode: BLIP ``itm`` (default: ITM-head match probability) or ``itc`` (cosine of the
            ITC projections); SigLIP ``sigmoid`` (default: its sigmoid of the scaled, biased
            cosine) or ``cosine``; CLIP and open_clip ``cosine``.
    """
    name, suffix = split_mode(name)
    if mode and suffix and mode != suffix:
        raise ValueError(f"{name}: mode {mode!r} and name suffix @{suffix} disagree")
    for prefix, build in SCORER_REGISTRY.items():
        if str(name).startswith(prefix):
            scorer = build(str(name) if prefix else name, device=device, mode=mode or suffix)
            if suffix:
                scorer.name = f"{scorer.name}@{suffix}"
            return scorer
    raise ValueError(f"no scorer for {name!r}")
