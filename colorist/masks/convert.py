"""Official segment-anything checkpoints (``sam_vit_h_4b8939.pth`` ...) -> transformers
``SamModel``.

The architecture (width, depth, heads, window, global-attention blocks, image size) is read
from the tensors' shapes, so ViT-B/L/H and any smaller test model convert the same way.
Only the mask decoder's head count is not visible in the weights: segment-anything always
uses 8.
"""

from __future__ import annotations

import re
from pathlib import Path

GROUPS = {  # nn.Sequential indices in segment-anything -> transformers names
    "image_encoder.neck": {"0": "conv1", "1": "layer_norm1", "2": "conv2", "3": "layer_norm2"},
    "mask_decoder.output_upscaling": {"0": "upscale_conv1", "1": "upscale_layer_norm",
                                      "3": "upscale_conv2"},
    "prompt_encoder.mask_downscaling": {"0": "conv1", "1": "layer_norm1", "3": "conv2",
                                        "4": "layer_norm2", "6": "conv3"},
}
RENAMES = [  # applied in order, as regular expressions
    (r"^image_encoder\.neck\.", "vision_encoder.neck."),
    (r"^image_encoder\.blocks\.", "vision_encoder.layers."),
    (r"^image_encoder\.patch_embed\.proj\.", "vision_encoder.patch_embed.projection."),
    (r"^image_encoder\.", "vision_encoder."),
    (r"^(vision_encoder\.layers\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    (r"^mask_decoder\.output_upscaling\.", "mask_decoder."),
    (r"^(mask_decoder\.transformer\.layers\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    (r"^mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer."
     "layer_norm_final_attn."),
    (r"^prompt_encoder\.mask_downscaling\.", "prompt_encoder.mask_embed."),
    (r"^prompt_encoder\.point_embeddings\.", "prompt_encoder.point_embed."),
]
POSITIONAL = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"


class CheckpointError(ValueError):
    """Not a segment-anything state dict; the message says what is missing."""


def _mlp_key(key: str, depth: dict[str, int]) -> str:
    """MLP ``layers.i`` -> ``proj_in`` / ``layers.(i-1)`` / ``proj_out``."""
    m = re.match(r"^(mask_decoder\.(?:iou_prediction_head|output_hypernetworks_mlps\.\d+))"
                 r"\.layers\.(\d+)\.(.*)$", key)
    if not m:
        return key
    head, i, rest = m.group(1), int(m.group(2)), m.group(3)
    n = depth[head]
    name = "proj_in" if i == 0 else "proj_out" if i == n - 1 else f"layers.{i - 1}"
    return f"{head}.{name}.{rest}"


def _rename(key: str, depth: dict[str, int]) -> str:
    for prefix, table in GROUPS.items():
        m = re.match(rf"^{re.escape(prefix)}\.(\d+)\.(.*)$", key)
        if m and m.group(1) in table:
            key = f"{prefix}.{table[m.group(1)]}.{m.group(2)}"
            break
    for pattern, repl in RENAMES:
        key = re.sub(pattern, repl, key)
    return _mlp_key(key, depth)


def sam_config_from_state_dict(sd: dict, decoder_heads: int = 8):
    """A ``SamConfig`` matching the official state dict's tensor shapes."""
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    needed = ["image_encoder.patch_embed.proj.weight", "image_encoder.pos_embed",
              "mask_decoder.iou_token.weight", POSITIONAL]
    missing = [k for k in needed if k not in sd]
    if missing:
        raise CheckpointError(f"not a segment-anything checkpoint: missing {', '.join(missing)}")
    patch = sd["image_encoder.patch_embed.proj.weight"]
    hidden, patch_size = patch.shape[0], patch.shape[2]
    grid = sd["image_encoder.pos_embed"].shape[1]
    blocks = sorted({int(k.split(".")[2]) for k in sd if k.startswith("image_encoder.blocks.")})
    rel = [sd[f"image_encoder.blocks.{i}.attn.rel_pos_h"] for i in blocks]
    global_blocks = [i for i, r in zip(blocks, rel) if r.shape[0] == 2 * grid - 1]
    windowed = [r.shape[0] for i, r in zip(blocks, rel) if i not in global_blocks]
    window = (windowed[0] + 1) // 2 if windowed else 14
    head_dim = rel[0].shape[1]
    out_channels = sd["image_encoder.neck.0.weight"].shape[0]
    vision = SamVisionConfig(
        hidden_size=hidden, num_hidden_layers=len(blocks), num_attention_heads=hidden // head_dim,
        mlp_dim=sd["image_encoder.blocks.0.mlp.lin1.weight"].shape[0], image_size=grid * patch_size,
        patch_size=patch_size, output_channels=out_channels, window_size=window,
        global_attn_indexes=global_blocks,
        num_pos_feats=sd[POSITIONAL].shape[1])
    d_hidden = sd["mask_decoder.iou_token.weight"].shape[1]
    prompt = SamPromptEncoderConfig(
        hidden_size=d_hidden, image_size=grid * patch_size, patch_size=patch_size,
        mask_input_channels=sd["prompt_encoder.mask_downscaling.3.weight"].shape[0])
    dec_layers = {int(k.split(".")[3]) for k in sd
                  if k.startswith("mask_decoder.transformer.layers.")}
    iou_layers = {k.split(".")[3] for k in sd if k.startswith("mask_decoder.iou_prediction_head.")}
    decoder = SamMaskDecoderConfig(
        hidden_size=d_hidden, num_hidden_layers=len(dec_layers), num_attention_heads=decoder_heads,
        mlp_dim=sd["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0],
        iou_head_depth=len(iou_layers),
        iou_head_hidden_dim=sd["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0],
        num_multimask_outputs=sd["mask_decoder.mask_tokens.weight"].shape[0] - 1)
    return SamConfig(vision_config=vision, prompt_encoder_config=prompt,
                     mask_decoder_config=decoder)


def convert_sam_state_dict(sd: dict) -> dict:
    """Rename an official state dict's keys to transformers' ``SamModel`` names."""
    depth: dict[str, int] = {}
    for k in sd:
        m = re.match(r"^(mask_decoder\.(?:iou_prediction_head|output_hypernetworks_mlps\.\d+))"
                     r"\.layers\.(\d+)\.", k)
        if m:
            depth[m.group(1)] = max(depth.get(m.group(1), 0), int(m.group(2)) + 1)
    out = {_rename(k, depth): v for k, v in sd.items() if k not in ("pixel_mean", "pixel_std")}
    pe = out.pop(POSITIONAL)
    out["prompt_encoder.shared_embedding.positional_embedding"] = pe
    out["shared_image_embedding.positional_embedding"] = pe.clone()
    return out


def load_official_sam(path: str | Path, decoder_heads: int = 8):
    """A transformers ``SamModel`` from an official ``.pth`` checkpoint."""
    import torch
    from transformers import SamModel

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SAM checkpoint not found: {path}")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]
    config = sam_config_from_state_dict(sd, decoder_heads)
    model = SamModel(config)
    converted = convert_sam_state_dict(sd)
    result = model.load_state_dict(converted, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{path}: converted keys do not match SamModel: missing "
                              f"{result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}")
    return model.eval()
