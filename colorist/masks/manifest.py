"""What the exported files look like, shared by the exporter and the runtime (no torch):
the manifest's name, the ONNX input names, SAM's normalisation, GroundingDINO's inputs.
"""

from __future__ import annotations

import numpy as np

from colorist.masks.preprocess import text_masks

MANIFEST = "colorist_masks.json"
MIN_OPSET = 16  # grid_sample
SAM_MEAN = [123.675 / 255, 116.28 / 255, 103.53 / 255]
SAM_STD = [58.395 / 255, 57.12 / 255, 57.375 / 255]

SAM_ENCODER_INPUTS = ["pixel_values"]
SAM_DECODER_INPUTS = ["image_embeddings", "input_boxes"]
DINO_INPUTS = ["pixel_values", "pixel_mask", "input_ids", "attention_mask", "token_type_ids",
               "text_self_attention_mask", "position_ids"]
CLIPSEG_INPUTS = ["pixel_values", "input_ids", "attention_mask"]


def _dino_text(tokenizer, prompts: list[str]) -> dict:
    enc = tokenizer(prompts, padding="longest", return_tensors="np")
    return {k: np.asarray(enc[k], np.int64)
            for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}


def dino_special_ids(tokenizer) -> list[int]:
    """The phrase delimiters GroundingDINO's text masks use: ``[CLS] [SEP] . ?``."""
    ids = tokenizer.convert_tokens_to_ids([tokenizer.cls_token, tokenizer.sep_token, ".", "?"])
    if tokenizer.unk_token_id in ids:
        raise ValueError("the GroundingDINO tokenizer has no id for one of [CLS] [SEP] . ?")
    return [int(i) for i in ids]


def dino_feed(tokenizer, special: list[int], pixels: np.ndarray, valid: np.ndarray,
              prompts: list[str], max_text_len: int = 256) -> dict[str, np.ndarray]:
    """The 7 named inputs of ``dino.onnx`` for a batch of letterboxed images and prompts.

    Text longer than ``max_text_len`` tokens is cut there after the masks are computed, as
    GroundingDINO does inside its forward (that branch is not in the traced graph)."""
    text = _dino_text(tokenizer, prompts)
    ids = text["input_ids"]
    mask, pos = text_masks(ids, special)
    n = max_text_len
    return {"pixel_values": pixels, "pixel_mask": valid, "input_ids": ids[:, :n],
            "attention_mask": text["attention_mask"][:, :n],
            "token_type_ids": text.get("token_type_ids", np.zeros_like(ids))[:, :n],
            "text_self_attention_mask": mask[:, :n, :n], "position_ids": pos[:, :n]}
