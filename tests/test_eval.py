"""Metric functions against hand-computed values; Flickr8k-Expert against direct CLIP-S; CLIP-S
and the open_clip adapter (the CLI: test_eval_report.py)."""

import sys
import types

import numpy as np
import pytest

from colorist.eval.metrics import (
    accuracy,
    choose,
    confusion_matrix,
    correlations,
    per_class_accuracy,
    score_differences,
)


def test_choice_accuracy_and_score_differences_by_hand():
    scores = [[0.30, 0.20, 0.10], [0.10, 0.50, 0.45], [0.2, 0.2, 0.1]]
    truth = [0, 2, 1]
    assert choose(scores).tolist() == [0, 1, 0]  # a tie goes to the first caption
    assert accuracy(choose(scores), truth) == pytest.approx(1 / 3)
    # true minus best wrong: 0.30-0.20, 0.45-0.50, 0.2-0.2
    np.testing.assert_allclose(score_differences(scores, truth), [0.10, -0.05, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="at least two captions"):
        score_differences([[0.3]], [0])


def test_confusion_and_per_class_accuracy():
    true = ["red", "red", "blue", "green"]
    pred = ["red", "blue", "blue", "red"]
    m = confusion_matrix(true, pred, ["red", "green", "blue"])
    assert m.tolist() == [[1, 0, 1], [1, 0, 0], [0, 0, 1]]
    assert per_class_accuracy(true, pred) == {"blue": 1.0, "green": 0.0, "red": 0.5}


def test_correlations_by_hand():
    # x = 1,2,3,4 ; y = 1,3,2,4: 6 pairs, 5 concordant, 1 discordant, no ties
    r = correlations([1, 2, 3, 4], [1, 3, 2, 4])
    assert r["kendall_tau_b"] == pytest.approx(4 / 6)
    # tau-c = 2 (C - D) / (n^2 (m - 1) / m), m = min(#distinct x, #distinct y) = 4
    assert r["kendall_tau_c"] == pytest.approx(2 * 4 / (16 * 3 / 4))
    assert r["spearman"] == pytest.approx(1 - 6 * 2 / (4 * 15))  # sum d^2 = 2
    assert r["pearson"] == pytest.approx(0.8)
    # with ties in y: 1,2,3 vs 1,1,2 -> C=2, D=0, ties in y=1 pair
    r = correlations([1, 2, 3], [1, 1, 2])
    assert r["kendall_tau_b"] == pytest.approx(2 / np.sqrt(3 * 2))
    with pytest.raises(ValueError, match="length >= 2"):
        correlations([1], [1])


torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from colorist.models import build_tiny_clip

    path = tmp_path_factory.mktemp("tiny") / "clip"
    build_tiny_clip(path, words=["triangle", "plain", "background"])
    return path


def test_clip_score_is_w_times_clamped_cosine(tiny):
    from colorist.models import clip_score, load_scorer

    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 1.0], [-1.0, 0.0], [0.0, 1.0]])
    torch.testing.assert_close(clip_score(a, b), torch.tensor([2.5 / 2**0.5, 0.0, 2.5]))
    scorer = load_scorer(tiny, device="cpu")
    img = [np.full((20, 30, 3), c, np.uint8) for c in (0, 128)]
    emb = scorer.encode_images(img)
    assert emb.shape == (2, 32)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2))
    s = scorer.clip_score(img, ["a red square", "a blue circle"])
    assert s.shape == (2,) and bool((s >= 0).all() and (s <= 2.5).all())
    with pytest.raises(ValueError, match="uint8 RGB"):
        scorer.encode_images([np.zeros((4, 4), np.float32)])
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_scorer(tiny.parent, device="cpu")


def _write_flickr(root, n_images=4):
    from colorist.io.images import write_image

    (root / "images").mkdir(parents=True)
    tokens, expert = [], []
    rng = np.random.default_rng(0)
    for i in range(n_images):
        name = f"{i}.jpg"
        write_image(root / "images" / name, rng.integers(0, 255, (24, 24, 3), np.uint8))
        for k in range(2):
            tokens.append(f"{name}#{k}\tA {['red', 'blue'][k]} square number {i}.")
            expert.append(f"{name}\t{name}#{k}\t{1 + k}\t{2 + k}\t{1 + (i + k) % 4}")
    (root / "Flickr8k.token.txt").write_text("\n".join(tokens) + "\n")
    (root / "ExpertAnnotations.txt").write_text("\n".join(expert) + "\n")


def _pixel_scorer():
    """Deterministic embeddings with non-negative cosines: image -> (mean R, mean G, 1),
    caption -> (#'red', #'blue', 1); the scorer protocol from ``_Encoding``."""
    from colorist.models.scorer import _Encoding

    class PixelScorer(_Encoding):
        name, device = "pixels", torch.device("cpu")

        def preprocess(self, images):
            return torch.tensor([[im[..., 0].mean() / 255, im[..., 1].mean() / 255, 1.0]
                                 for im in images])

        def tokenize(self, texts):
            ids = torch.tensor([[t.count("red"), t.count("blue"), 1] for t in texts])
            return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

        def image_features(self, pixel_values):
            return pixel_values

        def text_features(self, input_ids, attention_mask=None):
            return input_ids.float()

    return PixelScorer()


def test_flickr_expert_correlations_match_direct_computation(tmp_path):
    from colorist.eval.flickr import FlickrFormatError, flickr_expert, read_expert_annotations
    from colorist.io import read_image
    from colorist.models import clip_score

    _write_flickr(tmp_path)
    scorer = _pixel_scorer()
    got = flickr_expert(scorer, tmp_path / "ExpertAnnotations.txt",
                        tmp_path / "Flickr8k.token.txt", tmp_path / "images")
    judged = read_expert_annotations(tmp_path / "ExpertAnnotations.txt")
    assert judged[1] == ("0.jpg", "0.jpg#1", pytest.approx((2 + 3 + 2) / 3))
    caps = dict(line.split("\t") for line in
                (tmp_path / "Flickr8k.token.txt").read_text().splitlines())
    direct = [float(clip_score(scorer.encode_images([read_image(tmp_path / "images" / f)]),
                               scorer.encode_texts([caps[c]]))[0]) for f, c, _ in judged]
    assert len(set(direct)) > 2
    thesis = correlations(direct, [h for _, _, h in judged])
    assert {k: got[k] for k in thesis} == pytest.approx(thesis, abs=1e-5)
    assert got["score"] == "CLIP-S" and got["published"]["n"] == 3 * len(judged)
    (tmp_path / "bad.txt").write_text("0.jpg 0.jpg#0 one two three\n")
    with pytest.raises(FlickrFormatError, match="bad.txt:1"):
        read_expert_annotations(tmp_path / "bad.txt")


def test_open_clip_scorer_through_the_registry(monkeypatch):
    """The open_clip adapter's glue (open_clip itself needs torchvision, absent on CI)."""
    from colorist.models import load_scorer

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(3, 4, bias=False)

        def encode_image(self, x):
            return self.w(x.mean(dim=(2, 3)))

        def encode_text(self, ids):
            return self.w(ids[:, :3].float())

    fake = types.SimpleNamespace(
        create_model_from_pretrained=lambda name: (
            Model(), lambda im: torch.from_numpy(np.asarray(im, np.float32)).permute(2, 0, 1)),
        get_tokenizer=lambda name: lambda texts: torch.tensor([[len(t), 1, 2] for t in texts]))
    monkeypatch.setitem(sys.modules, "open_clip", fake)
    scorer = load_scorer("hf-hub:org/model", device="cpu")
    assert type(scorer).__name__ == "OpenClipScorer"
    emb = scorer.encode_images([np.full((4, 4, 3), 9, np.uint8)])
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(1))
    assert scorer.encode_texts(["ab", "abc"]).shape == (2, 4)
