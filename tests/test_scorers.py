"""Scorers with tiny random CLIP, BLIP and SigLIP models (saved and loaded by path) and an
open_clip stand-in: registry dispatch, score modes against the models' own forward passes,
CLIPS's tokenizer, batching, no_grad, device, determinism."""

import json
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from colorist.models import load_scorer  # noqa: E402
from colorist.models.scorer import model_type, split_mode  # noqa: E402

CAPTIONS = ["a red car", "a blue car", "a green dog sitting", "zebra"]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from colorist.models.tiny import build_tiny_blip, build_tiny_clip, build_tiny_siglip

    root = tmp_path_factory.mktemp("scorers")
    build_tiny_clip(root / "clip")
    build_tiny_blip(root / "blip")
    build_tiny_siglip(root / "siglip")
    return root


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (20 + 3 * i, 24, 3), np.uint8) for i in range(3)]


@pytest.mark.parametrize("folder, cls, kind", [
    ("clip", "HFClipScorer", "cosine"),
    ("blip", "BlipScorer", "itm"),
    ("blip@itc", "BlipScorer", "cosine"),
    ("siglip", "SiglipScorer", "sigmoid"),
    ("siglip@cosine", "SiglipScorer", "cosine"),
])
def test_local_folders_dispatch_by_config_model_type(tiny_models, folder, cls, kind):
    scorer = load_scorer(tiny_models / folder, device="cpu")
    assert type(scorer).__name__ == cls
    assert scorer.score_kind == kind
    assert scorer.name == str(tiny_models / folder)  # the mode suffix stays in the name
    assert scorer.device == torch.device("cpu")


def test_registry_errors_name_the_model(tiny_models, tmp_path):
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="no scorer for model_type 'bert'.*clip, blip, siglip"):
        load_scorer(tmp_path / "bert", device="cpu")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_scorer(tmp_path, device="cpu")
    with pytest.raises(ValueError, match="unknown score mode 'sigmoid'.*itm, itc"):
        load_scorer(tiny_models / "blip", device="cpu", mode="sigmoid")
    with pytest.raises(ValueError, match="disagree"):
        load_scorer(f"{tiny_models / 'blip'}@itm", device="cpu", mode="itc")
    with pytest.raises(ValueError, match="no scorer for model_type 'siglip2'"):
        load_scorer("google/siglip2-base-patch16-224", device="cpu")


def test_a_checkpoint_without_the_scoring_heads_is_refused(tiny_models, tmp_path):
    from transformers import BlipForConditionalGeneration

    from colorist.models.tiny import build_tiny_blip

    model, processor = build_tiny_blip()
    captioner = tmp_path / "blip-captioning"  # model_type blip, but no ITM head nor ITC
    BlipForConditionalGeneration(model.config).save_pretrained(str(captioner))
    processor.save_pretrained(str(captioner))
    with pytest.raises(ValueError, match="not a BlipForImageTextRetrieval checkpoint.*itm_head"
                                         ".*would be random"):
        load_scorer(captioner, device="cpu")


def test_hub_ids_dispatch_by_their_words(monkeypatch):
    from colorist.models import scorer as mod

    assert model_type("Salesforce/blip-itm-base-coco") == "blip"
    assert model_type("google/siglip-base-patch16-224") == "siglip"
    assert model_type("openai/clip-vit-base-patch32") == "clip"
    assert split_mode("Salesforce/blip-itm-base-coco@itc") == ("Salesforce/blip-itm-base-coco",
                                                               "itc")
    assert split_mode("org/model@v2") == ("org/model@v2", None)  # not a mode: part of the name
    calls = []
    monkeypatch.setitem(mod.MODEL_TYPE_REGISTRY, "blip",
                        lambda name, device=None, mode=None: calls.append((name, device, mode))
                        or types.SimpleNamespace(name=name))
    got = load_scorer("Salesforce/blip-itm-base-coco@itc", device="cpu")
    assert calls == [("Salesforce/blip-itm-base-coco", "cpu", "itc")]
    assert got.name == "Salesforce/blip-itm-base-coco@itc"


def _pixels_and_ids(scorer, images, captions):
    tok = scorer.tokenize(captions)
    return scorer.preprocess(images), tok["input_ids"], tok["attention_mask"]


def test_blip_itm_and_itc_equal_the_models_own_heads(tiny_models, images):
    scorer = load_scorer(tiny_models / "blip", device="cpu")
    pixels, ids, mask = _pixels_and_ids(scorer, images, CAPTIONS)
    model = scorer.model
    with torch.no_grad():
        expected = torch.stack([torch.stack([
            model(input_ids=ids[j : j + 1], attention_mask=mask[j : j + 1],
                  pixel_values=pixels[i : i + 1]).itm_score.softmax(-1)[0, 1]
            for j in range(len(CAPTIONS))]) for i in range(len(images))])
        itc = model(input_ids=ids, attention_mask=mask, pixel_values=pixels,
                    use_itm_head=False).itm_score
    got = scorer.score(images, CAPTIONS)
    assert got.shape == (3, 4) and not got.requires_grad
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert float(got.std()) > 0  # the tiny model tells images and captions apart
    scorer.pair_batch = 5  # the pair batches split rows: same scores
    torch.testing.assert_close(scorer.score(images, CAPTIONS, batch_size=2), expected,
                               atol=1e-5, rtol=1e-5)
    itc_scorer = load_scorer(f"{tiny_models / 'blip'}@itc", device="cpu")
    torch.testing.assert_close(itc_scorer.score(images, CAPTIONS), itc, atol=1e-5, rtol=1e-5)
    # the ITM and ITC heads are different scores, not one rescaled
    assert not np.array_equal(got.argsort(1).numpy(), itc.argsort(1).numpy())


def test_blip_pair_scores_are_the_matrix_diagonal(tiny_models, images):
    for mode in ("itm", "itc"):
        scorer = load_scorer(tiny_models / "blip", device="cpu", mode=mode)
        pixels, ids, mask = _pixels_and_ids(scorer, images, CAPTIONS[:3])
        img, txt = scorer.image_states(pixels), scorer.text_states(ids, mask)
        torch.testing.assert_close(scorer.match_pairs(img, txt),
                                   scorer.match(img, txt).diagonal(), atol=1e-6, rtol=1e-6)


def test_siglip_sigmoid_equals_the_models_logits(tiny_models, images):
    scorer = load_scorer(tiny_models / "siglip", device="cpu")
    tok = scorer.tokenize(CAPTIONS)
    context = scorer.model.config.text_config.max_position_embeddings
    assert tok["input_ids"].shape == (4, context)  # padded to max_length, as SigLIP trained
    pixels = scorer.preprocess(images)
    with torch.no_grad():
        logits = scorer.model(input_ids=tok["input_ids"], pixel_values=pixels).logits_per_image
    got = scorer.score(images, CAPTIONS)
    torch.testing.assert_close(got, torch.sigmoid(logits), atol=1e-6, rtol=1e-5)
    cos = load_scorer(tiny_models / "siglip", device="cpu", mode="cosine").score(images,
                                                                                 CAPTIONS)
    scale, bias = scorer.model.logit_scale.exp(), scorer.model.logit_bias
    torch.testing.assert_close(got, torch.sigmoid(cos * scale + bias).detach(), atol=1e-6,
                               rtol=1e-5)
    assert np.array_equal(got.argsort(1).numpy(), cos.argsort(1).numpy())  # monotone


def test_clip_score_matrix_is_the_models_logits_over_scale(tiny_models, images):
    scorer = load_scorer(tiny_models / "clip", device="cpu")
    pixels, ids, mask = _pixels_and_ids(scorer, images, CAPTIONS)
    with torch.no_grad():
        out = scorer.model(input_ids=ids, attention_mask=mask, pixel_values=pixels)
    expected = out.logits_per_image / scorer.model.logit_scale.exp()
    torch.testing.assert_close(scorer.score(images, CAPTIONS), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("folder", ["clip", "blip", "blip@itc", "siglip"])
def test_batching_and_reloading_do_not_change_scores(tiny_models, images, folder):
    first = load_scorer(tiny_models / folder, device="cpu")
    a = first.score(images, CAPTIONS, batch_size=1)
    b = load_scorer(tiny_models / folder, device="cpu").score(images, CAPTIONS, batch_size=64)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert first.score([], CAPTIONS).shape == (0, 4)


# ---- open_clip (not installable here: it needs torchvision) through a stand-in module ----

class _OpenClipModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(3, 4, bias=False)
        self.emb = torch.nn.Embedding(100, 4)

    def encode_image(self, x):
        return self.w(x.mean(dim=(2, 3)))

    def encode_text(self, ids):
        return self.emb(ids).sum(1)


def _stand_in(version: str, calls: list):
    """An ``open_clip`` module that records each ``get_tokenizer`` request. Its default
    tokenizer and its CLIPS-mode tokenizer give different ids for the same text."""

    def get_tokenizer(name, **kwargs):
        calls.append((name, kwargs))
        offset = 50 if kwargs.get("tokenizer_mode") == "clips" else 0
        return lambda texts: torch.tensor([[offset + len(w) for w in t.split()][:3]
                                           + [0] * (3 - min(3, len(t.split()))) for t in texts])

    def transform(im):
        return torch.from_numpy(np.asarray(im.resize((8, 8)), np.float32) / 255).permute(2, 0, 1)

    torch.manual_seed(0)
    return types.SimpleNamespace(
        __version__=version, get_tokenizer=get_tokenizer,
        create_model_from_pretrained=lambda name: (_OpenClipModel(), transform),
        create_model_and_transforms=lambda arch, pretrained=None: (_OpenClipModel(), None,
                                                                   transform))


CLIPS = "hf-hub:UCSC-VLAA/ViT-L-14-CLIPS-Recap-DataComp-1B"


def test_clips_gets_its_own_tokenizer(monkeypatch, images):
    calls = []
    monkeypatch.setitem(sys.modules, "open_clip", _stand_in("3.0.0", calls))
    scorer = load_scorer(CLIPS, device="cpu")
    assert type(scorer).__name__ == "OpenClipScorer"
    assert calls == [(CLIPS, {"tokenizer_mode": "clips"})]
    assert scorer.tokenize(["a red car"])["input_ids"].tolist() == [[51, 53, 53]]
    s = scorer.score(images, CAPTIONS)
    assert s.shape == (3, 4) and not s.requires_grad
    load_scorer("open_clip:ViT-B-16-CLIPS/datacomp", device="cpu")
    assert calls[-1] == ("ViT-B-16-CLIPS", {"tokenizer_mode": "clips"})


@pytest.mark.parametrize("name", ["hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
                                  "hf-hub:org/CLIPSeg-like", "open_clip:ViT-B-32/openai"])
def test_other_open_clip_models_keep_the_default_tokenizer(monkeypatch, name):
    calls = []
    monkeypatch.setitem(sys.modules, "open_clip", _stand_in("2.24.0", calls))
    scorer = load_scorer(name, device="cpu")
    assert calls[0][1] == {}
    assert scorer.tokenize(["a red car"])["input_ids"].tolist() == [[1, 3, 3]]


def test_clips_with_an_old_open_clip_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "open_clip", _stand_in("2.32.0", []))
    with pytest.raises(ImportError, match="CLIPS needs open_clip >= 3.0.*found 2.32.0"):
        load_scorer(CLIPS, device="cpu")
    with pytest.raises(ValueError, match="score by cosine"):
        load_scorer(CLIPS + "@itm", device="cpu")
