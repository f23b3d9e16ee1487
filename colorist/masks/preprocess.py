"""Pre- and post-processing of the mask models, in numpy (the ONNX graphs hold only the
networks, so the runtime needs neither torch nor the transformers image processors).

Shapes: images are ``(H, W, 3)`` uint8 RGB; batches are NCHW float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB, at least 1x1, or ValueError naming ``name``."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name}: expected (H, W, 3) RGB, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name}: empty image {image.shape}")
    return image


def fit_size(h: int, w: int, max_h: int, max_w: int) -> tuple[int, int, float]:
    """The largest ``(h', w')`` of the same aspect inside ``(max_h, max_w)``, and the scale."""
    scale = min(max_h / h, max_w / w)
    return max(1, min(max_h, round(h * scale))), max(1, min(max_w, round(w * scale))), scale


def letterbox(images: Sequence[np.ndarray], size: tuple[int, int], mean: np.ndarray,
              std: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, float]]]:
    """Resize each image to fit ``size`` (aspect kept), normalise, pad bottom/right with 0.

    Returns:
        pixels ``(N, 3, H, W)`` float32, valid ``(N, H, W)`` int64 (1 on image pixels), and
        per image ``(h', w', scale)``.
    """
    big_h, big_w = size
    pixels = np.zeros((len(images), 3, big_h, big_w), np.float32)
    valid = np.zeros((len(images), big_h, big_w), np.int64)
    fits = []
    for i, image in enumerate(images):
        h, w, scale = fit_size(image.shape[0], image.shape[1], big_h, big_w)
        resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        pixels[i, :, :h, :w] = ((resized.astype(np.float32) / 255 - mean) / std).transpose(2, 0, 1)
        valid[i, :h, :w] = 1
        fits.append((h, w, scale))
    return pixels, valid, fits


def stretch(images: Sequence[np.ndarray], size: tuple[int, int], mean: np.ndarray,
            std: np.ndarray) -> np.ndarray:
    """Resize each image to exactly ``size`` (CLIPSeg's processor), normalise: NCHW float32."""
    h, w = size
    out = np.empty((len(images), 3, h, w), np.float32)
    for i, image in enumerate(images):
        resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        out[i] = ((resized.astype(np.float32) / 255 - mean) / std).transpose(2, 0, 1)
    return out


def upscale_logits(logits: np.ndarray, valid_hw: tuple[int, int], canvas: int | None,
                   shape: tuple[int, int]) -> np.ndarray:
    """Low-resolution mask logits -> logits at the original image ``shape`` ``(H, W)``.

    ``canvas``: SAM's padded square input size; the logits cover it, so they are resized to
    it, cropped to the valid ``(h', w')`` and resized again (SAM's own post-processing).
    None: the logits cover the whole image (CLIPSeg).
    """
    logits = np.asarray(logits, np.float32)
    if canvas is not None:
        logits = cv2.resize(logits, (canvas, canvas), interpolation=cv2.INTER_LINEAR)
        logits = logits[: valid_hw[0], : valid_hw[1]]
    return cv2.resize(logits, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def text_masks(input_ids: np.ndarray, special_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """GroundingDINO's text self-attention mask and position ids, outside the ONNX graph.

    Tokens attend to the tokens of their own phrase (the tokens up to the next delimiter:
    ``[CLS] [SEP] . ?``) and to themselves; position ids count from 0 after each delimiter.
    Phrases closed by the first or the last token, or by none, attend only to themselves and
    get position 0 (the reference: ``generate_masks_with_special_tokens_and_transfer_map``).

    Args:
        input_ids: ``(B, T)`` int.
    Returns:
        ``(B, T, T)`` bool mask and ``(B, T)`` int64 position ids.
    """
    ids = np.asarray(input_ids)
    b, t = ids.shape
    special = np.isin(ids, np.asarray(special_ids))
    idx = np.broadcast_to(np.arange(t), (b, t))
    prev = np.maximum.accumulate(np.where(special, idx, -1), axis=1)
    prev = np.concatenate([np.full((b, 1), -1), prev[:, :-1]], axis=1)
    nxt = np.where(special, idx, t)[:, ::-1]
    nxt = np.minimum.accumulate(nxt, axis=1)[:, ::-1]
    valid = (nxt != 0) & (nxt != t - 1) & (nxt != t)
    mask = (nxt[:, :, None] == nxt[:, None, :]) & valid[:, None, :]
    mask |= np.eye(t, dtype=bool)[None]
    pos = np.where(valid, idx - prev - 1, 0).clip(min=0).astype(np.int64)
    return mask, pos


def boxes_cxcywh_to_xyxy(boxes: np.ndarray, h: int, w: int) -> np.ndarray:
    """Normalised ``(cx, cy, w, h)`` -> pixel ``(x0, y0, x1, y1)`` clipped to the image."""
    cx, cy, bw, bh = np.moveaxis(np.asarray(boxes, np.float32), -1, 0)
    xyxy = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w,
                     (cy + bh / 2) * h], -1)
    return np.clip(xyxy, 0, [w, h, w, h]).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression (OpenCV), best first."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = [[float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in boxes]
    keep = cv2.dnn.NMSBoxes(xywh, [float(s) for s in scores], 0.0, iou)
    keep = np.asarray(keep, np.int64).reshape(-1)
    return keep[np.argsort(-np.asarray(scores)[keep], kind="stable")]
