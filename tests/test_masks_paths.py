"""Mask model folders are untrusted: the manifest's file names must stay inside them."""

import json

import pytest

from colorist.masks.onnx_runtime import MaskModelError, load_tokenizer, model_path, read_manifest


def test_manifest_file_names_may_not_leave_the_model_folder(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (tmp_path / "evil.onnx").write_bytes(b"x")
    assert model_path(models, "sam_encoder.onnx", "sam") == (models / "sam_encoder.onnx")
    for bad in ["../evil.onnx", str(tmp_path / "evil.onnx"), 5, None, "a\x00b"]:
        with pytest.raises(MaskModelError, match="colorist_masks.json: clipseg"):
            model_path(models, bad, "clipseg")
    with pytest.raises(MaskModelError, match="leaves"):
        load_tokenizer(models, "../")


def test_a_manifest_entry_that_is_not_an_object_is_a_clear_error(tmp_path):
    (tmp_path / "colorist_masks.json").write_text(json.dumps({"clipseg": "clipseg.onnx"}))
    with pytest.raises(MaskModelError, match="'clipseg' entry must be an object"):
        read_manifest(tmp_path, "clipseg")
