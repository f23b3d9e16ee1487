"""Flickr8k-Expert in both protocols on a hand-made ExpertAnnotations file, with hand-computed
Kendall tau values."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colorist.eval.flickr import (  # noqa: E402
    PUBLISHED,
    FlickrFormatError,
    expert_correlations,
    flickr_expert,
    read_expert_judgments,
)

# Four judged pairs; the stand-in scorer below scores pair i with i + 1.
EXPERT = """\
a.jpg\ta.jpg#0\t1\t1\t2
a.jpg\tb.jpg#1\t2\t1\t1
b.jpg\tb.jpg#0\t3\t4\t2
c.jpg\tc.jpg#0\t2\t4\t4
"""
TOKENS = "a.jpg#0\tscore 1\nb.jpg#1\tscore 2\nb.jpg#0\tscore 3\nc.jpg#0\tscore 4\n"
SCORES = [1, 2, 3, 4]
JUDGMENTS = [(1, 1, 2), (2, 1, 1), (3, 4, 2), (2, 4, 4)]


def test_thesis_protocol_by_hand():
    # rows: x = 1, 2, 3, 4 vs the expert means 4/3, 4/3, 3, 10/3. Of the 6 pairs 5 are
    # concordant, none discordant, one tied in y (pairs 1-2).
    r = expert_correlations(SCORES, JUDGMENTS)
    assert r["protocol"] == "thesis" and r["n"] == 4
    # tau-b = (C - D) / sqrt((n0 - n1)(n0 - n2)) = 5 / sqrt(6 * 5)
    assert r["kendall_tau_b"] == pytest.approx(5 / np.sqrt(30))
    # tau-c = 2 (C - D) / (n^2 (m - 1) / m), m = min(4 distinct x, 3 distinct y) = 3
    assert r["kendall_tau_c"] == pytest.approx(2 * 5 / (16 * 2 / 3))


def test_published_protocol_by_hand():
    # 12 rows, x repeated per judgment. Pairs across x groups {1,1,2} {2,1,1} {3,4,2} {2,4,4}:
    # concordant / discordant = 2/2, 8/0, 8/0, 8/0, 8/0, 4/2 -> C = 38, D = 4.
    # tau-c = 2 * 34 / (12^2 * 3 / 4) (m = 4 distinct values on both sides) = 17 / 27.
    pub = expert_correlations(SCORES, JUDGMENTS)["published"]
    assert pub["n"] == 12
    assert pub["kendall_tau_c"] == pytest.approx(17 / 27)


def test_expert_correlations_shape_errors():
    with pytest.raises(ValueError, match=r"3 scores vs judgments of shape \(4, 3\)"):
        expert_correlations([1, 2, 3], JUDGMENTS)


def _number_scorer():
    """Scores a pair with the number in its caption ("score 3" -> 3), image unused; an ITM-like
    score kind, so no CLIP-S clamp applies."""
    from colorist.models.scorer import _Encoding

    class NumberScorer(_Encoding):
        name, device, score_kind = "numbers", torch.device("cpu"), "itm"

        def preprocess(self, images):
            return torch.zeros(len(images), 1)

        def tokenize(self, texts):
            ids = torch.tensor([[int(t.split()[-1])] for t in texts])
            return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

        def image_states(self, pixel_values):
            return pixel_values

        def text_states(self, input_ids, attention_mask=None):
            return input_ids.float()

        def match_pairs(self, image_states, text_states):
            return image_states[:, 0] + text_states[:, 0]

    return NumberScorer()


@pytest.fixture
def flickr(tmp_path):
    from colorist.io.images import write_image

    (tmp_path / "images").mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write_image(tmp_path / "images" / name, np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "ExpertAnnotations.txt").write_text(EXPERT)
    (tmp_path / "Flickr8k.token.txt").write_text(TOKENS)
    return tmp_path


def test_flickr_expert_gives_both_protocols_from_the_files(flickr):
    r = flickr_expert(_number_scorer(), flickr / "ExpertAnnotations.txt",
                      flickr / "Flickr8k.token.txt", flickr / "images", batch_size=2)
    assert r["score"] == "itm"
    assert r["kendall_tau_c"] == pytest.approx(0.9375)
    assert r["published"]["kendall_tau_c"] == pytest.approx(17 / 27)
    assert read_expert_judgments(flickr / "ExpertAnnotations.txt")[1] == ("a.jpg", "b.jpg#1",
                                                                          (2.0, 1.0, 1.0))
    assert PUBLISHED == {"CLIP-S": 51.2, "RefCLIP-S": 53.0, "PAC-S": 54.3}


def test_unusable_images_are_skipped_with_a_reason(flickr, tmp_path):
    from colorist.eval.report import write_report

    (flickr / "outside.jpg").write_bytes(b"")
    (flickr / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    extra = ("gone.jpg\tgone.jpg#0\t1\t1\t1\n../outside.jpg\tx.jpg#0\t4\t4\t4\n"
             "broken.jpg\tbroken.jpg#0\t2\t2\t2\n")
    (flickr / "ExpertAnnotations.txt").write_text(EXPERT + extra)
    (flickr / "Flickr8k.token.txt").write_text(TOKENS + "gone.jpg#0\tscore 9\n"
                                               "x.jpg#0\tscore 9\nbroken.jpg#0\tscore 9\n")
    r = flickr_expert(_number_scorer(), flickr / "ExpertAnnotations.txt",
                      flickr / "Flickr8k.token.txt", flickr / "images")
    assert r["n"] == 4 and r["kendall_tau_c"] == pytest.approx(0.9375)  # the 4 good pairs
    assert {(x["image"], x["reason"]) for x in r["rejects"]} == {
        ("gone.jpg", "image-not-found"), ("../outside.jpg", "unsafe-path"),
        ("broken.jpg", "image-undecodable")}
    write_report(tmp_path / "rep", {"m": {"flickr": r}})
    lines = [json.loads(x) for x in (tmp_path / "rep" / "rejects.jsonl").read_text().split("\n")
             if x]
    assert len(lines) == 3 and {x["model"] for x in lines} == {"m"}
    assert "Image files skipped" in (tmp_path / "rep" / "report.md").read_text()


def test_malformed_expert_lines_name_file_and_line(tmp_path):
    (tmp_path / "e.txt").write_text("a.jpg a.jpg#0 1 2 3\na.jpg a.jpg#1 1 2\n")
    with pytest.raises(FlickrFormatError, match="e.txt:2"):
        read_expert_judgments(tmp_path / "e.txt")
