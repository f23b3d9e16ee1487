"""Caption mining forms, category mapping and span rewriting."""

import pytest

pytest.importorskip("spacy")
from colorist.captions import load_spacy, mine_captions, rewrite_caption  # noqa: E402

COCO = ["person", "bicycle", "car", "bus", "truck", "dog", "cat", "fire hydrant", "stop sign",
        "traffic light", "tennis racket", "airplane", "teddy bear", "bear"]


@pytest.fixture(scope="module")
def nlp():
    try:
        return load_spacy()
    except RuntimeError as e:
        pytest.skip(str(e))


def mined(nlp, text):
    return [(m.color, m.category, m.form, text[m.span[0]:m.span[1]], m.colors_of_noun)
            for m in mine_captions([text], COCO, nlp=nlp)[0]]


@pytest.mark.parametrize("text,expect", [
    ("A green bus on the street.", [("green", "bus", "attributive", "green", 1)]),
    ("A red extra long bus parked.", [("red", "bus", "attributive", "red", 1)]),
    ("A blue pickup truck in a lot.", [("blue", "truck", "attributive", "blue", 1)]),
    ("The stop sign is red and bright.", [("red", "stop sign", "predicative", "red", 1)]),
    ("a red stop sign", [("red", "stop sign", "attributive", "red", 1)]),
    ("A blue and bright bike.", [("blue", "bicycle", "attributive", "blue", 1)]),
    ("A yellow fire hydrant by the road.", [("yellow", "fire hydrant", "attributive",
                                              "yellow", 1)]),
    ("A Grey cat sleeps.", [("gray", "cat", "attributive", "Grey", 1)]),
    ("A puppy that is brown.", [("brown", "dog", "predicative", "brown", 1)]),
])
def test_mention_forms_and_categories(nlp, text, expect):
    assert mined(nlp, text) == expect


def test_two_colours_are_flagged(nlp):
    out = mined(nlp, "A black and white dog by a yellow and green fire hydrant.")
    assert {(c, cat, n) for c, cat, _, _, n in out} == {
        ("black", "dog", 2), ("white", "dog", 2), ("yellow", "fire hydrant", 2),
        ("green", "fire hydrant", 2)}


def test_colour_words_outside_the_palette_and_captions_without_colour(nlp):
    (m,) = mine_captions(["A silver car parked."], COCO, nlp=nlp)[0]
    assert (m.color, m.in_palette, m.category) == ("silver", False, "car")
    assert mine_captions(["A man rides a horse.", ""], COCO, nlp=nlp) == [[], []]


def test_user_synonyms_extend_the_table(nlp):
    (m,) = mine_captions(["A red minibus."], COCO, nlp=nlp, synonyms={"minibus": "bus"})[0]
    assert m.category == "bus"


@pytest.mark.parametrize("caption,span,color,expect", [
    ("A red car.", (2, 5), "orange", "An orange car."),
    ("An orange car.", (3, 9), "red", "A red car."),
    ("a car in red, parked", (9, 12), "blue", "a car in blue, parked"),
    ("RED car", (0, 3), "blue", "BLUE car"),
    ("Red car's door.", (0, 3), "orange", "Orange car's door."),
    ("the man's red stop sign!", (10, 13), "orange", "the man's orange stop sign!"),
    ("A  red bus", (3, 6), "orange", "An  orange bus"),  # spacing kept byte for byte
    ("Banana, red car", (8, 11), "orange", "Banana, orange car"),  # no article: untouched
])
def test_rewrite_replaces_only_the_colour_and_fixes_the_article(caption, span, color, expect):
    assert rewrite_caption(caption, span, color) == expect


def test_rewrite_rejects_a_bad_span():
    with pytest.raises(ValueError, match="outside the caption"):
        rewrite_caption("a red car", (4, 40), "blue")


def test_worker_processes_give_the_same_mentions_in_caption_order(nlp):
    texts = ["A red bus on the road.", "No colour here.", "A man in blue on a bike.",
             "The stop sign is red.", "A black and white dog.", "A girl with a green kite."]
    texts = [f"{t[:-1]} number {i}." if i % 3 else t for i, t in enumerate(texts * 7)]
    one = mine_captions(texts, COCO, nlp=nlp, batch_size=4, n_process=1)
    two = mine_captions(texts, COCO, nlp=nlp, batch_size=4, n_process=2, progress=True)
    assert two == one
    assert one[0][0].category == "bus" and one[1] == []
