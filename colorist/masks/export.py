"""Export SAM, GroundingDINO and CLIPSeg (transformers models) to ONNX.

Files written to ``OUT/``: ``sam_encoder.onnx``, ``sam_decoder.onnx``, ``dino.onnx`` +
``dino_tokenizer/``, ``clipseg.onnx`` + ``clipseg_tokenizer/``, and ``colorist_masks.json``
(the manifest: file names, input/output names, input sizes, normalisation, special token
ids, export time, file size and the ONNX Runtime vs PyTorch difference of each model).

How GroundingDINO exports (the TorchScript exporter fails on it out of the box, at
``torch.isin`` in ``generate_masks_with_special_tokens_and_transfer_map``): the text
self-attention mask and the text position ids are computed outside the graph
(``preprocess.text_masks``, numpy) and fed as two more inputs; deformable attention takes
its pure-PyTorch ``grid_sample`` path (``disable_custom_kernels``, opset >= 16). The image
size is fixed at export (the multi-scale shapes are Python ints inside the model); batch
size and text length are dynamic. SAM's encoder and CLIPSeg have a dynamic batch; SAM's
decoder takes ``(B, N, 4)`` boxes with dynamic B and N.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from colorist.hub import from_pretrained
from colorist.io.atomic import atomic_write_json
from colorist.masks.manifest import (
    CLIPSEG_INPUTS,
    DINO_INPUTS,
    MANIFEST,
    SAM_DECODER_INPUTS,
    SAM_ENCODER_INPUTS,
    SAM_MEAN,
    SAM_STD,
    dino_feed,
    dino_special_ids,
)
from colorist.masks.onnx_runtime import open_session
from colorist.masks.preprocess import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD

MIN_OPSET = 16  # grid_sample
CPU = ["CPUExecutionProvider"]  # the export check runs on CPU, like the PyTorch reference


class SamEncoderForExport(nn.Module):
    """``(B, 3, S, S)`` normalised pixels -> ``(B, C, S/16, S/16)`` image embeddings."""

    def __init__(self, sam):
        super().__init__()
        self.sam = sam

    def forward(self, pixel_values):
        return self.sam.get_image_embeddings(pixel_values)


class SamDecoderForExport(nn.Module):
    """Embeddings + ``(B, N, 4)`` xyxy boxes in input pixels -> ``(B, N, 4S/16, 4S/16)``
    mask logits and ``(B, N)`` predicted IoU (one mask per box)."""

    def __init__(self, sam):
        super().__init__()
        self.sam = sam

    def forward(self, image_embeddings, input_boxes):
        out = self.sam(image_embeddings=image_embeddings, input_boxes=input_boxes,
                       multimask_output=False)
        return out.pred_masks[:, :, 0], out.iou_scores[:, :, 0]


@contextlib.contextmanager
def _text_masks_as_inputs(mask, position_ids):
    """Make GroundingDINO use the given text mask and position ids instead of computing them
    with ``torch.isin`` (which the exporter cannot convert)."""
    import transformers.models.grounding_dino.modeling_grounding_dino as gd

    original = gd.generate_masks_with_special_tokens_and_transfer_map
    gd.generate_masks_with_special_tokens_and_transfer_map = lambda *a, **k: (mask, position_ids)
    try:
        yield
    finally:
        gd.generate_masks_with_special_tokens_and_transfer_map = original


class GroundingDinoForExport(nn.Module):
    """Pixels, pixel mask and text (with its self-attention mask and position ids) ->
    ``(B, Q, max_text_len)`` token logits and ``(B, Q, 4)`` normalised cxcywh boxes."""

    def __init__(self, dino):
        super().__init__()
        self.dino = dino

    def forward(self, pixel_values, pixel_mask, input_ids, attention_mask, token_type_ids,
                text_self_attention_mask, position_ids):
        with _text_masks_as_inputs(text_self_attention_mask, position_ids):
            out = self.dino(pixel_values=pixel_values, pixel_mask=pixel_mask,
                            input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids, return_dict=True)
        return out.logits, out.pred_boxes


class ClipSegForExport(nn.Module):
    """Pixels + prompt tokens -> ``(B, S, S)`` mask logits."""

    def __init__(self, clipseg):
        super().__init__()
        self.clipseg = clipseg

    def forward(self, pixel_values, input_ids, attention_mask):
        logits = self.clipseg(pixel_values=pixel_values, input_ids=input_ids,
                              attention_mask=attention_mask).logits
        return logits.reshape(pixel_values.shape[0], logits.shape[-2], logits.shape[-1])


# ---- loading ----------------------------------------------------------------------------


def load_sam(spec: str | Path):
    """A ``SamModel`` from a hub id, a ``save_pretrained`` folder or an official ``.pth``."""
    from transformers import SamModel

    if str(spec).endswith((".pth", ".pt")):
        from colorist.masks.convert import load_official_sam

        return load_official_sam(spec)
    return from_pretrained(SamModel.from_pretrained, spec).eval()


def load_dino(spec: str | Path):
    from transformers import AutoTokenizer, GroundingDinoForObjectDetection

    model = from_pretrained(GroundingDinoForObjectDetection.from_pretrained, spec)
    model.config.disable_custom_kernels = True
    for module in model.modules():  # the pure-PyTorch grid_sample path exports
        if hasattr(module, "disable_custom_kernels"):
            module.disable_custom_kernels = True
    return model.eval(), from_pretrained(AutoTokenizer.from_pretrained, spec, "tokenizer")


def load_clipseg(spec: str | Path):
    from transformers import AutoTokenizer, CLIPSegForImageSegmentation

    return (from_pretrained(CLIPSegForImageSegmentation.from_pretrained, spec).eval(),
            from_pretrained(AutoTokenizer.from_pretrained, spec, "tokenizer"))


# ---- export -----------------------------------------------------------------------------


@dataclass
class ExportOptions:
    opset: int = 17
    fp16: bool = False
    verify: bool = True
    dino_size: tuple[int, int] = (800, 1333)
    clipseg_size: int = 352  # CLIPSeg's processor size (position embeddings interpolated)
    seed: int = 0


def _onnx_export(module: nn.Module, args: tuple, path: Path, inputs: list[str],
                 outputs: list[str], dynamic: dict, opset: int) -> float:
    """Export into a scratch folder, then write ``path`` in one piece (atomic)."""
    import shutil
    import warnings

    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset}: GroundingDINO's grid_sample needs opset >= {MIN_OPSET}")
    module.eval()
    scratch = path.parent / f".export-{path.stem}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(scratch / "model.onnx"), opset_version=opset,
                              dynamo=False, input_names=inputs, output_names=outputs,
                              dynamic_axes=dynamic)
        seconds = time.perf_counter() - start
        _save(scratch / "model.onnx", path)
    finally:
        module.eval()  # the exporter restores the wrapper's mode, which may be train()
        shutil.rmtree(scratch, ignore_errors=True)
    return seconds


def _weight_bytes(model) -> int:
    return sum(len(t.raw_data) for t in model.graph.initializer)


def _save(src: Path, path: Path) -> None:
    """Write ``path`` atomically; models over 2 GB (SAM ViT-H) keep their weights in one
    ``path.data`` file beside it (protobuf's limit)."""
    import onnx

    model = onnx.load(str(src), load_external_data=True)
    part = path.with_name(path.name + ".part")
    if _weight_bytes(model) > 1_900_000_000:
        onnx.save_model(model, str(part), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=path.name + ".data")
    else:
        path.with_name(path.name + ".data").unlink(missing_ok=True)
        onnx.save_model(model, str(part))
    part.replace(path)


def _to_fp16(path: Path) -> None:
    """Weights and compute in float16, inputs and outputs kept float32 (ORT's converter)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    part = path.with_name(path.name + ".fp16.onnx")
    onnx.save_model(model, str(part))
    _save(part, path)
    part.unlink()


def _max_diff(ort_out: list[np.ndarray], torch_out: tuple) -> float:
    worst = 0.0
    for a, b in zip(ort_out, torch_out):
        b = b.detach().float().numpy()
        finite = np.isfinite(b)
        if not np.array_equal(finite, np.isfinite(a)):
            return float("inf")
        if finite.any():
            worst = max(worst, float(np.abs(a[finite] - b[finite]).max()))
    return worst


def match_queries(got: list[np.ndarray], ref: tuple, tol: float = 1e-3) -> dict:
    """Compare detections whatever their order: GroundingDINO keeps the top 900 of ~22,000
    encoder proposals (at 800x1333), and with random weights many scores are near-ties, so
    float rounding can reorder the queries (and swap those at the cut) between ONNX Runtime
    and PyTorch. Each PyTorch query is matched to the ORT query with the nearest box.

    Returns the share of queries matched within ``tol`` (box L-inf) and the largest logit
    difference over the matched pairs."""
    got_logits, got_boxes = got
    ref_logits, ref_boxes = (t.detach().float().numpy() for t in ref)
    matched, worst = 0, 0.0
    for b in range(ref_boxes.shape[0]):
        d = np.abs(ref_boxes[b][:, None, :] - got_boxes[b][None, :, :]).max(-1)
        j = d.argmin(1)
        ok = d[np.arange(len(j)), j] < tol
        matched += int(ok.sum())
        a, r = got_logits[b][j[ok]], ref_logits[b][ok]
        finite = np.isfinite(r) & np.isfinite(a)
        if finite.any():
            worst = max(worst, float(np.abs(a[finite] - r[finite]).max()))
    return {"matched_queries": round(matched / (ref_boxes.shape[0] * ref_boxes.shape[1]), 4),
            "matched_max_abs_diff": worst}


def _entry(path: Path, seconds: float, inputs: list[str], outputs: list[str]) -> dict:
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return {"file": path.name, "inputs": inputs, "outputs": outputs,
            "export_seconds": round(seconds, 2), "bytes": size}


def export_sam(sam, out: Path, opts: ExportOptions) -> dict:
    """Write ``sam_encoder.onnx`` and ``sam_decoder.onnx``; returns the manifest entry."""
    out = Path(out)
    size = sam.config.vision_config.image_size
    g = torch.Generator().manual_seed(opts.seed)
    pixels = torch.randn(1, 3, size, size, generator=g)
    encoder, decoder = SamEncoderForExport(sam).eval(), SamDecoderForExport(sam).eval()
    with torch.no_grad():
        embeddings = encoder(pixels)
    boxes = torch.tensor([[[0.1, 0.2, 0.6, 0.9], [0.3, 0.3, 0.5, 0.5]]]) * size
    enc_t = _onnx_export(encoder, (pixels,), out / "sam_encoder.onnx", SAM_ENCODER_INPUTS,
                         ["image_embeddings"], {"pixel_values": {0: "batch"},
                                                "image_embeddings": {0: "batch"}}, opts.opset)
    dec_t = _onnx_export(decoder, (embeddings, boxes), out / "sam_decoder.onnx",
                         SAM_DECODER_INPUTS, ["masks", "iou_scores"],
                         {"image_embeddings": {0: "batch"},
                          "input_boxes": {0: "batch", 1: "boxes"},
                          "masks": {0: "batch", 1: "boxes"},
                          "iou_scores": {0: "batch", 1: "boxes"}},
                         opts.opset)
    if opts.fp16:
        _to_fp16(out / "sam_encoder.onnx")
        _to_fp16(out / "sam_decoder.onnx")
    entry = {
        "encoder": _entry(out / "sam_encoder.onnx", enc_t, SAM_ENCODER_INPUTS,
                          ["image_embeddings"]),
        "decoder": _entry(out / "sam_decoder.onnx", dec_t, SAM_DECODER_INPUTS,
                          ["masks", "iou_scores"]),
        "image_size": size, "mask_size": int(embeddings.shape[-1] * 4),
        "mean": SAM_MEAN, "std": SAM_STD, "fp16": opts.fp16,
    }
    if opts.verify:  # a second random input, batch 2, 3 boxes: dynamic axes are exercised
        x = torch.randn(2, 3, size, size, generator=g)
        r = torch.rand(2, 3, 4, generator=g) * (size - 1)
        b = torch.cat([torch.minimum(r[..., :2], r[..., 2:]),
                       torch.maximum(r[..., :2], r[..., 2:]) + 1], -1)
        with torch.no_grad():
            e = encoder(x)
            ref = decoder(e, b)
        encoder_session = open_session(out / "sam_encoder.onnx", SAM_ENCODER_INPUTS, CPU)
        oe = encoder_session.run(None, {"pixel_values": x.numpy()})
        od = open_session(out / "sam_decoder.onnx", SAM_DECODER_INPUTS, CPU).run(
            None, {"image_embeddings": e.numpy(), "input_boxes": b.numpy()})
        entry["encoder"]["max_abs_diff"] = _max_diff(oe, (e,))
        entry["decoder"]["max_abs_diff"] = _max_diff(od, ref)
        entry["encoder"]["max_abs_ref"] = float(e.abs().max())
        entry["decoder"]["max_abs_ref"] = float(ref[0].abs().max())
    return entry


def export_dino(dino, tokenizer, out: Path, opts: ExportOptions) -> dict:
    """Write ``dino.onnx`` and ``dino_tokenizer/``; returns the manifest entry."""
    from colorist.masks.preprocess import letterbox

    out = Path(out)
    special = dino_special_ids(tokenizer)
    h, w = opts.dino_size
    rng = np.random.default_rng(opts.seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    pixels, valid, _ = letterbox([image], (h, w), IMAGENET_MEAN, IMAGENET_STD)
    feed = dino_feed(tokenizer, special, pixels, valid, ["car . dog ."])
    args = tuple(torch.from_numpy(feed[k]) for k in DINO_INPUTS)
    wrapper = GroundingDinoForExport(dino).eval()
    text_axes = {0: "batch", 1: "text"}
    dynamic = {"pixel_values": {0: "batch"}, "pixel_mask": {0: "batch"},
               "input_ids": text_axes, "attention_mask": text_axes, "token_type_ids": text_axes,
               "text_self_attention_mask": {0: "batch", 1: "text", 2: "text"},
               "position_ids": text_axes, "logits": {0: "batch"}, "pred_boxes": {0: "batch"}}
    seconds = _onnx_export(wrapper, args, out / "dino.onnx", DINO_INPUTS,
                           ["logits", "pred_boxes"], dynamic, opts.opset)
    if opts.fp16:
        _to_fp16(out / "dino.onnx")
    tokenizer.save_pretrained(out / "dino_tokenizer")
    entry = {**_entry(out / "dino.onnx", seconds, DINO_INPUTS, ["logits", "pred_boxes"]),
             "image_size": [h, w], "mean": IMAGENET_MEAN.tolist(), "std": IMAGENET_STD.tolist(),
             "tokenizer": "dino_tokenizer", "special_token_ids": special,
             "max_text_len": int(dino.config.max_text_len), "fp16": opts.fp16}
    if opts.verify:  # batch 2, another text length, the second image padded
        images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                  rng.integers(0, 256, (h // 2, w, 3), dtype=np.uint8)]
        pixels, valid, _ = letterbox(images, (h, w), IMAGENET_MEAN, IMAGENET_STD)
        feed = dino_feed(tokenizer, special, pixels, valid, ["a dog .", "car ."])
        with torch.no_grad():
            ref = wrapper(*(torch.from_numpy(feed[k]) for k in DINO_INPUTS))
        got = open_session(out / "dino.onnx", DINO_INPUTS, CPU).run(None, feed)
        entry["max_abs_diff"] = _max_diff(got, ref)
        entry["max_abs_ref"] = float(ref[1].abs().max())
        entry.update(match_queries(got, ref))
    return entry


def export_clipseg(clipseg, tokenizer, out: Path, opts: ExportOptions) -> dict:
    """Write ``clipseg.onnx`` and ``clipseg_tokenizer/``; returns the manifest entry."""
    out = Path(out)
    size = opts.clipseg_size
    g = torch.Generator().manual_seed(opts.seed)
    enc = tokenizer(["a car", "a red dog"], padding="longest", return_tensors="pt")
    pixels = torch.randn(2, 3, size, size, generator=g)
    wrapper = ClipSegForExport(clipseg).eval()
    args = (pixels, enc["input_ids"], enc["attention_mask"])
    text_axes = {0: "batch", 1: "text"}
    seconds = _onnx_export(wrapper, args, out / "clipseg.onnx", CLIPSEG_INPUTS, ["logits"],
                           {"pixel_values": {0: "batch"}, "input_ids": text_axes,
                            "attention_mask": text_axes, "logits": {0: "batch"}}, opts.opset)
    if opts.fp16:
        _to_fp16(out / "clipseg.onnx")
    tokenizer.save_pretrained(out / "clipseg_tokenizer")
    entry = {**_entry(out / "clipseg.onnx", seconds, CLIPSEG_INPUTS, ["logits"]),
             "image_size": size, "mean": CLIP_MEAN.tolist(), "std": CLIP_STD.tolist(),
             "tokenizer": "clipseg_tokenizer", "fp16": opts.fp16}
    if opts.verify:
        enc = tokenizer(["a photo of a dog", "car", "sign"], padding="longest",
                        return_tensors="pt")
        x = torch.randn(3, 3, size, size, generator=g)
        with torch.no_grad():
            ref = wrapper(x, enc["input_ids"], enc["attention_mask"])
        got = open_session(out / "clipseg.onnx", CLIPSEG_INPUTS, CPU).run(None, {
            "pixel_values": x.numpy(), "input_ids": enc["input_ids"].numpy(),
            "attention_mask": enc["attention_mask"].numpy()})
        entry["max_abs_diff"] = _max_diff(got, (ref,))
        entry["max_abs_ref"] = float(ref.abs().max())
    return entry


def update_manifest(out: Path, **entries: dict) -> dict:
    """Merge ``entries`` into ``OUT/colorist_masks.json`` (atomic; other models kept)."""
    path = Path(out) / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {"format": 1}
    manifest.update({k: v for k, v in entries.items() if v is not None})
    atomic_write_json(path, manifest)
    return manifest
