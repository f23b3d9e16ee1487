"""Mask extraction: ONNX export of tiny random SAM / GroundingDINO / CLIPSeg against
PyTorch, the official SAM checkpoint conversion, the grounded-SAM and CLIPSeg sources on
coco-mini images, the colour refinement, and bad inputs."""

import importlib.util
import json
import shutil
import sys
import types
from functools import partial

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

from colorist.io import read_image  # noqa: E402
from colorist.masks import configs, export  # noqa: E402
from colorist.masks.__main__ import main as masks_main  # noqa: E402
from colorist.masks.onnx_runtime import MaskModelError, open_session, read_manifest  # noqa: E402
from colorist.masks.preprocess import text_masks  # noqa: E402
from colorist.masks.refine import RefineError, color_match, refine_mask  # noqa: E402
from colorist.masks.sources import ClipSeg, GroundedSam  # noqa: E402
from colorist.palette import DEFAULT_PALETTE, UnknownColorError  # noqa: E402

from .conftest import COCO_MINI  # noqa: E402

DINO_HW = (96, 128)
TOL = 1e-4  # ORT vs PyTorch, fp32, outputs O(1)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny random models exported once: (folder, manifest, sam, (dino, tok), (seg, tok))."""
    out = tmp_path_factory.mktemp("mask-models")
    opts = export.ExportOptions(dino_size=DINO_HW, clipseg_size=64)
    sam, dino, seg = configs.build_sam(), configs.build_dino(), configs.build_clipseg()
    manifest = export.update_manifest(
        out, sam=export.export_sam(sam, out, opts), dino=export.export_dino(*dino, out, opts),
        clipseg=export.export_clipseg(*seg, out, opts))
    return out, manifest, sam, dino, seg


@pytest.fixture(scope="module")
def coco_images():
    return [read_image(p) for p in sorted((COCO_MINI / "images").glob("*.jpg"))[:6]]


# ---- export ------------------------------------------------------------------------------


def test_text_masks_equal_the_transformers_reference():
    from transformers.models.grounding_dino.modeling_grounding_dino import (
        generate_masks_with_special_tokens_and_transfer_map as reference,
    )

    rng = np.random.default_rng(0)
    special = [101, 102, 1012, 1029]
    ids = rng.choice([5, 6, 7, 101, 102, 1012, 1029, 0], size=(6, 13))
    ids[:, 0], ids[0, -1] = 101, 102
    ids[1] = [101, 9, 9, 1012, 8, 1012, 7, 7, 7, 1012, 102, 0, 0]  # "car . dog . a b c ."
    mask, pos = text_masks(ids, special)
    ref_mask, ref_pos = reference(torch.from_numpy(ids), torch.tensor(special))
    np.testing.assert_array_equal(mask, ref_mask.numpy())
    np.testing.assert_array_equal(pos, ref_pos.numpy())
    assert pos[1].tolist()[:10] == [0, 0, 1, 2, 0, 1, 0, 1, 2, 3]  # a delimiter counts too


def test_export_writes_files_and_onnx_matches_pytorch(models):
    out, manifest, *_ = models
    assert manifest["format"] == 1
    for name in ("sam_encoder.onnx", "sam_decoder.onnx", "dino.onnx", "clipseg.onnx",
                 "dino_tokenizer", "clipseg_tokenizer", export.MANIFEST):
        assert (out / name).exists(), name
    entries = [manifest["sam"]["encoder"], manifest["sam"]["decoder"], manifest["dino"],
               manifest["clipseg"]]
    for e in entries:
        assert e["bytes"] == (out / e["file"]).stat().st_size
        assert e["max_abs_ref"] > 1e-3  # the comparison is on real signal, not on zeros
        assert e["max_abs_diff"] < TOL * max(1.0, e["max_abs_ref"]), e
    assert manifest["dino"]["image_size"] == list(DINO_HW)
    assert manifest["dino"]["matched_queries"] == 1.0
    assert not list(out.glob(".export-*")) and not list(out.glob("*.part"))


def test_dino_onnx_dynamic_batch_and_text_match_pytorch(models):
    out, _, _, (dino, tok), _ = models
    from colorist.masks.manifest import DINO_INPUTS, dino_feed, dino_special_ids
    from colorist.masks.preprocess import IMAGENET_MEAN, IMAGENET_STD, letterbox

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(50, 128, 3), (96, 40, 3),
                                                                (96, 128, 3)]]
    pixels, valid, _ = letterbox(images, DINO_HW, IMAGENET_MEAN, IMAGENET_STD)
    feed = dino_feed(tok, dino_special_ids(tok), pixels, valid,
                     ["teddy bear .", "a car . dog .", "sign ."])
    session = open_session(out / "dino.onnx", DINO_INPUTS, ["CPUExecutionProvider"])
    got = session.run(None, feed)
    wrapper = export.GroundingDinoForExport(dino).eval()
    with torch.no_grad():
        ref = wrapper(*(torch.from_numpy(feed[k]) for k in DINO_INPUTS))
        plain = dino(**{k: torch.from_numpy(feed[k]) for k in
                        ("pixel_values", "pixel_mask", "input_ids", "attention_mask",
                         "token_type_ids")})
    # the wrapper (masks fed as inputs) is the unmodified model
    torch.testing.assert_close(ref[1], plain.pred_boxes, rtol=0, atol=0)
    np.testing.assert_allclose(got[1], ref[1].numpy(), atol=TOL)
    finite = np.isfinite(ref[0].numpy())
    assert (np.isfinite(got[0]) == finite).all()
    np.testing.assert_allclose(got[0][finite], ref[0].numpy()[finite], atol=10 * TOL)


def test_fp16_export_is_smaller_and_close(tmp_path, models):
    _, manifest, sam, *_ = models
    entry = export.export_sam(sam, tmp_path, export.ExportOptions(fp16=True))
    assert entry["fp16"]
    import onnx

    def weight_bytes(path, dtype):
        return sum(len(t.raw_data) for t in onnx.load(str(path)).graph.initializer
                   if t.data_type == dtype)

    fp32 = weight_bytes(models[0] / "sam_encoder.onnx", onnx.TensorProto.FLOAT)
    half = weight_bytes(tmp_path / "sam_encoder.onnx", onnx.TensorProto.FLOAT16)
    assert weight_bytes(tmp_path / "sam_encoder.onnx", onnx.TensorProto.FLOAT) < 0.05 * fp32
    assert half == pytest.approx(fp32 / 2, rel=0.05)
    assert entry["encoder"]["max_abs_diff"] < 0.02 * entry["encoder"]["max_abs_ref"]


def test_export_cli_prints_the_ort_difference(tmp_path, capsys):
    assert masks_main(["export", "--clipseg", "tiny", "--clipseg-size", "96", "--out",
                       str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "clipseg: clipseg.onnx" in text and "ORT vs PyTorch max |diff|" in text
    entry = json.loads((tmp_path / export.MANIFEST).read_text())["clipseg"]
    assert entry["file"] == "clipseg.onnx" and entry["image_size"] == 96
    assert entry["max_abs_diff"] < TOL * max(1.0, entry["max_abs_ref"])  # interpolated 4->6
    assert masks_main(["export", "--out", str(tmp_path)]) == 2
    assert masks_main(["export", "--sam", "no/such/model.pth", "--out", str(tmp_path)]) == 2
    assert "SAM checkpoint not found" in capsys.readouterr().err


def _segment_anything_modeling():
    """segment_anything's model classes without its package ``__init__`` (which imports
    torchvision through the predictor; torchvision does not load with CPU torch here)."""
    spec = importlib.util.find_spec("segment_anything")
    if spec is None:
        pytest.skip("segment-anything not installed")
    if "segment_anything" not in sys.modules:
        pkg = types.ModuleType("segment_anything")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["segment_anything"] = pkg
    import segment_anything.modeling as m
    return m


def test_official_sam_checkpoint_converts_exactly(tmp_path):
    m = _segment_anything_modeling()
    from colorist.masks.convert import load_official_sam

    official = m.Sam(
        image_encoder=m.ImageEncoderViT(
            img_size=128, patch_size=16, embed_dim=32, depth=3, num_heads=2, mlp_ratio=2,
            out_chans=32, qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True, window_size=4, global_attn_indexes=[1]),
        prompt_encoder=m.PromptEncoder(embed_dim=32, image_embedding_size=(8, 8),
                                       input_image_size=(128, 128), mask_in_chans=16),
        mask_decoder=m.MaskDecoder(
            num_multimask_outputs=3, transformer_dim=32, iou_head_depth=3,
            iou_head_hidden_dim=24,
            transformer=m.TwoWayTransformer(depth=2, embedding_dim=32, mlp_dim=64,
                                            num_heads=2))).eval()
    configs._randomize(official, 0)
    torch.save(official.state_dict(), tmp_path / "sam_tiny.pth")
    hf = load_official_sam(tmp_path / "sam_tiny.pth", decoder_heads=2)
    assert hf.config.vision_config.global_attn_indexes == [1]
    assert hf.config.vision_config.window_size == 4
    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    boxes = torch.tensor([[10.0, 20.0, 90.0, 100.0]])
    with torch.no_grad():
        emb = official.image_encoder(x)
        torch.testing.assert_close(hf.get_image_embeddings(x), emb, rtol=1e-5, atol=1e-5)
        sparse, dense = official.prompt_encoder(points=None, boxes=boxes, masks=None)
        masks, iou = official.mask_decoder(
            image_embeddings=emb[:1], image_pe=official.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
            multimask_output=False)
        out = hf(image_embeddings=emb[:1], input_boxes=boxes[None], multimask_output=False)
    torch.testing.assert_close(out.pred_masks[0, :, 0], masks[:, 0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.iou_scores[0], iou, rtol=1e-5, atol=1e-6)


def test_converting_a_non_sam_checkpoint_names_what_is_missing(tmp_path):
    from colorist.masks.convert import CheckpointError, load_official_sam

    torch.save({"weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="missing image_encoder.patch_embed"):
        load_official_sam(tmp_path / "other.pth")


# ---- runtime -----------------------------------------------------------------------------


def test_grounded_sam_on_coco_mini_images(models, coco_images):
    out = models[0]
    texts = ["car", "dog", "bus", "cat", "stop sign", "teddy bear"]
    source = GroundedSam(out, box_threshold=0.0, text_threshold=0.0)
    detections = source.detect(coco_images, texts)
    assert all(b.shape[1] == 4 and len(b) == len(s) for b, s in detections)
    for (b, s), image in zip(detections, coco_images):
        h, w = image.shape[:2]
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
        assert (np.diff(s) <= 0).all()  # best first
    # thresholds decide: above every score -> no box; at 0 -> several boxes (random model)
    source.box_threshold = 1.0
    assert {r.reason for r in source.predict(coco_images, texts)} == {"mask-no-confident-box"}
    source.box_threshold = 0.0
    several = source.predict(coco_images, texts)
    assert any(r.reason == "mask-several-confident-boxes" and "the only one" in r.detail
               for r in several)
    # a threshold between the best and the second box of image 0 -> exactly one -> a mask
    s = detections[0][1]
    source.box_threshold = float((s[0] + s[1]) / 2) if len(s) > 1 else 0.0
    result = source.predict(coco_images[:1], texts[:1])[0]
    if result.mask is not None:  # SAM (random) may also leave the box empty
        assert result.mask.shape == coco_images[0].shape[:2]
        assert result.mask.dtype == np.uint8 and set(np.unique(result.mask)) <= {0, 1}
    else:
        assert result.reason == "mask-empty"
    assert len(result.boxes) == 1


def test_sam_masks_come_back_at_every_image_size(models):
    source = GroundedSam(models[0])
    rng = np.random.default_rng(0)
    shapes = [(1, 1), (3, 500), (500, 3), (427, 640), (640, 427), (129, 257)]
    images = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    boxes = [np.array([0, 0, s[1], s[0]], np.float32) for s in shapes]
    masks = source.segment(images, boxes)
    assert [m.shape for m in masks] == shapes
    assert [d[0].shape[1] for d in source.detect(images, ["car"] * len(images))] == [4] * 6


def test_clipseg_source(models, coco_images):
    source = ClipSeg(models[0], threshold=0.5)
    results = source.predict(coco_images, ["car", "dog", "bus", "cat", "sign", "bear"])
    for r, image in zip(results, coco_images):
        assert r.mask is None or r.mask.shape == image.shape[:2]
    logits = source.logits(coco_images[:2], ["car", "dog"])
    size = models[1]["clipseg"]["image_size"]
    assert logits.shape == (2, size, size)
    source.threshold = 1.0
    assert {r.reason for r in source.predict(coco_images[:2], ["a", "b"])} == {"mask-empty"}


def test_bad_model_folders_name_the_problem(tmp_path, models):
    out = models[0]
    with pytest.raises(MaskModelError, match="folder not found"):
        GroundedSam(tmp_path / "nope")
    with pytest.raises(MaskModelError, match="colorist_masks.json not found"):
        GroundedSam(tmp_path)
    (tmp_path / export.MANIFEST).write_text("{oops")
    with pytest.raises(MaskModelError, match="malformed JSON"):
        read_manifest(tmp_path, "sam")
    (tmp_path / export.MANIFEST).write_text(json.dumps({"format": 1}))
    with pytest.raises(MaskModelError, match="no 'clipseg' model"):
        ClipSeg(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "sam_decoder.onnx").unlink()
    with pytest.raises(MaskModelError, match="model file not found: .*sam_decoder.onnx"):
        GroundedSam(copy)
    shutil.copy(copy / "clipseg.onnx", copy / "sam_decoder.onnx")  # wrong model in its place
    with pytest.raises(MaskModelError, match=r"inputs are \['pixel_values', 'input_ids'"):
        GroundedSam(copy)
    (copy / "sam_decoder.onnx").write_bytes(b"not onnx")
    with pytest.raises(MaskModelError, match="cannot load it"):
        GroundedSam(copy)
    shutil.rmtree(copy / "clipseg_tokenizer")
    with pytest.raises(MaskModelError, match="tokenizer folder not found"):
        ClipSeg(copy)


def test_bad_images_and_prompts_name_the_item(models):
    source = ClipSeg(models[0])
    good = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"item 1: expected \(H, W, 3\) RGB, got shape \(8, 8\)"):
        source.predict([good, np.zeros((8, 8), np.uint8)], ["a", "b"])
    with pytest.raises(ValueError, match="item 0: expected uint8, got float32"):
        source.predict([good.astype(np.float32)], ["a"])
    with pytest.raises(ValueError, match="item 0: empty prompt"):
        source.predict([good], ["  "])
    with pytest.raises(ValueError, match="2 images but 1 prompts"):
        source.predict([good, good], ["a"])


def test_predict_cli_writes_a_png(tmp_path, models, capsys):
    image = np.zeros((40, 60, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "in.png"), image)
    rc = masks_main(["predict", str(tmp_path / "in.png"), "car", "--models", str(models[0]),
                     "--source", "clipseg", "-o", str(tmp_path / "m.png")])
    if rc == 0:
        assert cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_GRAYSCALE).shape == (40, 60)
    else:
        assert rc == 1 and "mask-empty" in capsys.readouterr().err
    assert masks_main(["predict", str(tmp_path / "missing.png"), "car", "--models",
                       str(models[0]), "-o", str(tmp_path / "m.png")]) == 2


# ---- colour refinement -------------------------------------------------------------------

ORANGE, GREEN, BLUE, WHITE = (240, 130, 20), (40, 160, 60), (30, 70, 210), (250, 250, 250)


def carrot(h=480, w=640):
    """An orange disc with a green rectangle of leaves on top, on blue; mask covers both."""
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = BLUE
    cv2.circle(image, (300, 260), 120, ORANGE, -1)
    cv2.rectangle(image, (260, 60), (340, 150), GREEN, -1)
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (300, 260), 120, 1, -1)
    mask[60:151, 260:341] = 1
    body = np.zeros((h, w), np.uint8)
    cv2.circle(body, (300, 260), 120, 1, -1)
    body[60:151, 260:341] = 0
    return image, mask, body


def test_refinement_drops_the_leaves_exactly():
    image, mask, body = carrot()
    np.testing.assert_array_equal(refine_mask(image, mask, "orange"), body)
    leaves = mask & (1 - body)
    np.testing.assert_array_equal(refine_mask(image, mask, "green"), leaves)


def test_refinement_fills_highlights_and_drops_specks():
    image, mask, body = carrot()
    cv2.circle(image, (330, 250), 6, WHITE, -1)  # a highlight inside the body: kept
    image[300:302, 500:502] = ORANGE  # an orange speck outside the body but inside the mask
    mask[300:302, 500:502] = 1
    np.testing.assert_array_equal(refine_mask(image, mask, "orange"), body)


def test_refinement_matches_the_palette_classifier(rng):
    hsv = np.stack([rng.integers(0, 180, (64, 64)), rng.integers(0, 256, (64, 64)),
                    rng.integers(0, 256, (64, 64))], -1).astype(np.uint8)
    image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    labels = DEFAULT_PALETTE.classify_rgb(image)
    full = np.ones((64, 64), np.uint8)
    for name in DEFAULT_PALETTE.names:
        expected = labels == DEFAULT_PALETTE.index(name)
        np.testing.assert_array_equal(color_match(image, full, name), expected, err_msg=name)


def test_refinement_errors():
    image, mask, _ = carrot()
    with pytest.raises(RefineError, match="pixels are purple"):
        refine_mask(image, mask, "purple")
    with pytest.raises(RefineError, match="empty"):
        refine_mask(image, np.zeros_like(mask), "orange")
    with pytest.raises(UnknownColorError):
        refine_mask(image, mask, "silver")
    with pytest.raises(ValueError, match="mask is 10x10"):
        refine_mask(image, np.ones((10, 10), np.uint8), "orange")
    with pytest.raises(ValueError, match="uint8 RGB"):
        refine_mask(image.astype(np.float32), mask, "orange")


def test_query_matching_ignores_the_order_of_detections():
    rng = np.random.default_rng(0)
    boxes = rng.random((1, 30, 4)).astype(np.float32)
    logits = rng.normal(size=(1, 30, 8)).astype(np.float32)
    perm = rng.permutation(30)
    got = [logits[:, perm] + 1e-6, boxes[:, perm]]
    m = export.match_queries(got, (torch.from_numpy(logits), torch.from_numpy(boxes)))
    assert m["matched_queries"] == 1.0 and m["matched_max_abs_diff"] < 1e-5
    got[1][0, 0] += 0.5  # one detection moved
    m = export.match_queries(got, (torch.from_numpy(logits), torch.from_numpy(boxes)))
    assert m["matched_queries"] == pytest.approx(29 / 30, abs=1e-4)


def test_prompts_longer_than_max_text_len_match_pytorch(models):
    out, manifest, _, (dino, tok), _ = models
    from colorist.masks.manifest import DINO_INPUTS, dino_feed, dino_special_ids
    from colorist.masks.preprocess import IMAGENET_MEAN, IMAGENET_STD, letterbox

    n = manifest["dino"]["max_text_len"]
    long = " . ".join(["teddy bear", "car", "dog"] * 8) + " ."  # > n tokens
    image = np.random.default_rng(0).integers(0, 256, (*DINO_HW, 3), dtype=np.uint8)
    pixels, valid, _ = letterbox([image], DINO_HW, IMAGENET_MEAN, IMAGENET_STD)
    feed = dino_feed(tok, dino_special_ids(tok), pixels, valid, [long], n)
    assert feed["input_ids"].shape[1] == n < len(tok(long).input_ids)
    got = open_session(out / "dino.onnx", DINO_INPUTS).run(None, feed)
    # (transformers' model itself fails on text longer than max_text_len: it cuts the text
    # inside, but its detection head gets the uncut attention mask. Here the text masks are
    # computed on the whole text, then everything is cut, as the model means to.)
    wrapper = export.GroundingDinoForExport(dino).eval()
    with torch.no_grad():
        ref = wrapper(*(torch.from_numpy(feed[k]) for k in DINO_INPUTS))
    np.testing.assert_allclose(got[1], ref[1].numpy(), atol=TOL)
    boxes, _ = GroundedSam(out, box_threshold=0.0, text_threshold=0.0).detect([image], [long])[0]
    assert boxes.shape[1] == 4
