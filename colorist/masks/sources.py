"""Text-prompted mask sources on ONNX Runtime: grounded SAM and CLIPSeg.

``GroundedSam``: entity text -> GroundingDINO boxes -> SAM box prompt -> mask. The
thesis ran the same pipeline with both models reloaded on every call; here the sessions
are built once and images go through in batches. An object that is the only instance of
its category must give exactly one confident box (box and text thresholds 0.25 as in the
thesis, after non-maximum suppression); otherwise it is rejected with a reason.

``ClipSeg``: one forward pass per (image, text), mask logits thresholded; a light source
for when SAM's quality is not needed.

Both take ``(H, W, 3)`` uint8 RGB images of any size and return one ``MaskResult`` each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from colorist.masks import preprocess as pp
from colorist.masks.manifest import (
    CLIPSEG_INPUTS,
    DINO_INPUTS,
    SAM_DECODER_INPUTS,
    SAM_ENCODER_INPUTS,
    dino_feed,
)
from colorist.masks.onnx_runtime import (
    available_providers,
    load_tokenizer,
    model_path,
    open_session,
    read_manifest,
)


@dataclass
class MaskResult:
    """A mask ``(H, W)`` uint8 0/1, or None with ``reason`` (a code of
    ``colorist.rejects.REASONS``: ``mask-no-confident-box``, ``mask-several-confident-boxes``,
    ``mask-empty``) and ``detail``."""

    mask: np.ndarray | None
    reason: str | None = None
    detail: str = ""
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _check_inputs(images: Sequence[np.ndarray], prompts: Sequence[str]) -> list[np.ndarray]:
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
    out = []
    for i, (image, prompt) in enumerate(zip(images, prompts)):
        if not str(prompt).strip():
            raise ValueError(f"item {i}: empty prompt")
        out.append(pp.check_image(image, f"item {i}"))
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


class GroundedSam:
    """GroundingDINO + SAM from one exported model folder (see ``colorist.masks.export``)."""

    name = "grounded-sam"

    def __init__(self, model_dir: str | Path, box_threshold: float = 0.25,
                 text_threshold: float = 0.25, nms_iou: float = 0.5,
                 batch_size: int | None = None, providers: list[str] | None = None,
                 threads: int = 0):
        self.model_dir = Path(model_dir)
        self.sam = read_manifest(self.model_dir, "sam")
        self.dino = read_manifest(self.model_dir, "dino")
        providers = providers or available_providers()
        self.providers = providers
        d = self.model_dir
        self.encoder = open_session(model_path(d, self.sam["encoder"]["file"], "sam encoder"),
                                    SAM_ENCODER_INPUTS, providers, threads)
        self.decoder = open_session(model_path(d, self.sam["decoder"]["file"], "sam decoder"),
                                    SAM_DECODER_INPUTS, providers, threads)
        self.detector = open_session(model_path(d, self.dino["file"], "dino"), DINO_INPUTS,
                                     providers, threads)
        self.tokenizer = load_tokenizer(d, self.dino["tokenizer"])
        self.special = list(self.dino["special_token_ids"])
        self.box_threshold, self.text_threshold = box_threshold, text_threshold
        # batch 4 of GroundingDINO at 800x1333 needs over 24 GB of host memory on the CPU
        # provider (bench/masks.py --pipeline was OOM-killed); one image at a time there
        if batch_size is None:
            batch_size = 4 if providers[0] == "CUDAExecutionProvider" else 1
        self.nms_iou, self.batch_size = nms_iou, batch_size

    # ---- detection ----------------------------------------------------------------------

    @staticmethod
    def prompt(text: str) -> str:
        """GroundingDINO's caption form: lower case, ending with " ."."""
        text = " ".join(str(text).lower().split()).rstrip(" .")
        return f"{text} ."

    def detect(self, images: Sequence[np.ndarray], texts: Sequence[str]
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Confident boxes ``(K, 4)`` xyxy pixels and scores ``(K,)`` per image, best first."""
        images = _check_inputs(images, texts)
        size = tuple(self.dino["image_size"])
        mean, std = np.array(self.dino["mean"], np.float32), np.array(self.dino["std"], np.float32)
        out = []
        for sl in _batches(len(images), self.batch_size):
            batch = images[sl]
            pixels, valid, _ = pp.letterbox(batch, size, mean, std)
            feed = dino_feed(self.tokenizer, self.special, pixels, valid,
                             [self.prompt(t) for t in texts[sl]],
                             int(self.dino.get("max_text_len", 256)))
            logits, boxes = self.detector.run(None, feed)
            ids = feed["input_ids"]
            for k, image in enumerate(batch):
                out.append(self._confident(logits[k], boxes[k], ids[k], image.shape[:2]))
        return out

    def _confident(self, logits, boxes, ids, shape) -> tuple[np.ndarray, np.ndarray]:
        ids = ids[: logits.shape[1]]  # the model reads at most max_text_len tokens
        probs = _sigmoid(logits[:, : len(ids)].astype(np.float32))  # (Q, T)
        phrase = ~np.isin(ids, self.special) & (ids != self.tokenizer.pad_token_id)
        box_score = probs.max(axis=1)
        text_score = probs[:, phrase].max(axis=1) if phrase.any() else np.zeros(len(probs))
        keep = (box_score > self.box_threshold) & (text_score > self.text_threshold)
        xyxy = pp.boxes_cxcywh_to_xyxy(boxes[keep], *shape)
        scores = box_score[keep].astype(np.float32)
        sizes_ok = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        xyxy, scores = xyxy[sizes_ok], scores[sizes_ok]
        order = pp.nms(xyxy, scores, self.nms_iou)
        return xyxy[order], scores[order]

    # ---- segmentation -------------------------------------------------------------------

    def segment(self, images: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
                ) -> list[np.ndarray]:
        """One mask per image from its ``(4,)`` xyxy pixel box (SAM, single-mask output)."""
        size = int(self.sam["image_size"])
        mean, std = np.array(self.sam["mean"], np.float32), np.array(self.sam["std"], np.float32)
        masks = []
        for sl in _batches(len(images), self.batch_size):
            batch = [pp.check_image(im) for im in images[sl]]
            pixels, _, fits = pp.letterbox(batch, (size, size), mean, std)
            (emb,) = self.encoder.run(None, {"pixel_values": pixels})
            prompts = np.stack([np.asarray(b, np.float32) * f[2] for b, f in
                                zip(boxes[sl], fits)])[:, None, :]
            logits, _ = self.decoder.run(None, {"image_embeddings": emb,
                                                "input_boxes": prompts.astype(np.float32)})
            for k, image in enumerate(batch):
                up = pp.upscale_logits(logits[k, 0], fits[k][:2], size, image.shape[:2])
                masks.append((up > 0).astype(np.uint8))
        return masks

    def predict(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> list[MaskResult]:
        """The object's mask per image, or a rejection when there is not exactly one box."""
        detections = self.detect(images, texts)
        results: list[MaskResult | None] = [None] * len(images)
        single = []
        for i, ((boxes, scores), text) in enumerate(zip(detections, texts)):
            if len(boxes) == 0:
                results[i] = MaskResult(None, "mask-no-confident-box",
                                        f"GroundingDINO found no box above "
                                        f"{self.box_threshold} for {text!r}")
            elif len(boxes) > 1:
                results[i] = MaskResult(
                    None, "mask-several-confident-boxes",
                    f"GroundingDINO found {len(boxes)} boxes for {text!r} (scores "
                    f"{', '.join(f'{s:.2f}' for s in scores[:5])}); the object should be "
                    "the only one", boxes, scores)
            else:
                single.append(i)
        masks = self.segment([images[i] for i in single], [detections[i][0][0] for i in single])
        for i, mask in zip(single, masks):
            boxes, scores = detections[i]
            results[i] = (MaskResult(mask, None, "", boxes, scores) if mask.any() else
                          MaskResult(None, "mask-empty", f"SAM gave an empty mask for "
                                     f"{texts[i]!r} in box {boxes[0].round(1).tolist()}",
                                     boxes, scores))
        return results


class ClipSeg:
    """CLIPSeg from an exported model folder: text-prompted mask logits, thresholded."""

    name = "clipseg"

    def __init__(self, model_dir: str | Path, threshold: float = 0.5,
                 min_fraction: float = 0.001, batch_size: int = 8,
                 providers: list[str] | None = None, threads: int = 0):
        self.model_dir = Path(model_dir)
        self.meta = read_manifest(self.model_dir, "clipseg")
        self.session = open_session(model_path(self.model_dir, self.meta["file"], "clipseg"),
                                    CLIPSEG_INPUTS, providers or available_providers(), threads)
        self.tokenizer = load_tokenizer(self.model_dir, self.meta["tokenizer"])
        self.threshold, self.min_fraction, self.batch_size = threshold, min_fraction, batch_size

    def logits(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """``(N, S, S)`` mask logits at the model's input size."""
        images = _check_inputs(images, texts)
        size = int(self.meta["image_size"])
        mean, std = np.array(self.meta["mean"], np.float32), np.array(self.meta["std"], np.float32)
        out = []
        for sl in _batches(len(images), self.batch_size):
            enc = self.tokenizer([str(t) for t in texts[sl]], padding="longest",
                                 return_tensors="np")
            (logits,) = self.session.run(None, {
                "pixel_values": pp.stretch(images[sl], (size, size), mean, std),
                "input_ids": np.asarray(enc["input_ids"], np.int64),
                "attention_mask": np.asarray(enc["attention_mask"], np.int64)})
            out.append(logits)
        return np.concatenate(out)

    def predict(self, images: Sequence[np.ndarray], texts: Sequence[str]) -> list[MaskResult]:
        logits = self.logits(images, texts)
        results = []
        for image, text, lg in zip(images, texts, logits):
            prob = _sigmoid(pp.upscale_logits(lg, lg.shape, None, image.shape[:2]))
            mask = (prob > self.threshold).astype(np.uint8)
            if mask.mean() < self.min_fraction:
                results.append(MaskResult(None, "mask-empty",
                                          f"CLIPSeg found under {self.min_fraction:.1%} of the "
                                          f"image above {self.threshold} for {text!r}"))
            else:
                results.append(MaskResult(mask))
        return results


MASK_SOURCES = {"grounded-sam": GroundedSam, "clipseg": ClipSeg}


def build_mask_source(name: str, model_dir: str | Path, **kwargs):
    """A text-prompted mask source by name: ``grounded-sam`` or ``clipseg``."""
    if name not in MASK_SOURCES:
        raise ValueError(f"unknown mask source {name!r}; choose from "
                         f"{', '.join(['coco', *MASK_SOURCES])}")
    return MASK_SOURCES[name](model_dir, **kwargs)
