import json

import numpy as np
import pytest

from colorist.palette import DEFAULT_PALETTE as P
from colorist.palette import HueArc, Palette, UnknownColorError, rgb_to_hsv
from colorist.recolor.prepass import fit_source_arc


def hsv_pixel(h, s, v):
    return np.array([[[h, s, v]]], dtype=np.uint8)


def test_twelve_colours_and_grey_alias():
    assert len(P.names) == 12
    assert P.canonical(" Grey ") == "gray"
    assert P["grey"].name == "gray"


def test_unknown_colour_names_it_and_lists_palette():
    with pytest.raises(UnknownColorError, match=r"unknown colour 'teal'.*red, orange"):
        P.canonical("teal")


def test_hue_arcs_tile_the_circle_once():
    hues = np.arange(180)
    hue_colors = [c for c in P.colors if c.chromatic and c.name != "brown"]
    counts = sum(c.hue.contains(hues).astype(int) for c in hue_colors)
    assert (counts == 1).all()


def test_red_is_one_circular_arc():
    red = P["red"].hue
    assert red.contains(178) and red.contains(0) and red.contains(9)
    assert not red.contains(10) and not red.contains(169)
    assert red.width == 20


@pytest.mark.parametrize("name", ["red", "orange", "yellow", "green", "cyan", "blue",
                                  "purple", "pink", "brown", "white", "gray", "black"])
def test_swatches_classify_as_themselves(name):
    rgb = np.array([[P[name].rgb]], dtype=np.uint8)
    assert P.names[P.classify_rgb(rgb)[0, 0]] == name


@pytest.mark.parametrize("hsv,expected", [
    ((179, 200, 200), "red"), ((0, 200, 200), "red"), ((5, 200, 200), "red"),
    ((15, 200, 200), "orange"), ((15, 200, 80), "brown"), ((60, 200, 200), "green"),
    ((110, 200, 200), "blue"), ((110, 20, 220), "white"), ((110, 20, 120), "gray"),
    ((110, 255, 30), "black"), ((0, 0, 0), "black"), ((0, 0, 255), "white"),
])
def test_pixel_classifier_rules(hsv, expected):
    assert P.names[P.classify_hsv(hsv_pixel(*hsv))[0, 0]] == expected


def test_classifier_agrees_with_opencv_hsv_of_rgb():
    rgb = np.array([[[250, 10, 12], [12, 10, 250], [128, 128, 128]]], dtype=np.uint8)
    assert [P.names[i] for i in P.classify_rgb(rgb)[0]] == ["red", "blue", "gray"]
    assert rgb_to_hsv(rgb)[0, 0, 0] in (0, 179)


def test_dominant_colour_prefers_chromatic_over_shadows():
    img = np.zeros((10, 10, 3), np.uint8)  # black shadows
    img[:4] = (20, 40, 220)  # 40% blue
    assert P.dominant_color(img, np.ones((10, 10))) == "blue"
    img[:1] = (20, 40, 220)
    img[1:] = 0
    assert P.dominant_color(img, np.ones((10, 10))) == "black"  # 10% < 25%: achromatic
    assert P.dominant_color(img, np.zeros((10, 10))) is None


def test_fit_source_arc_centres_on_object_hue():
    hist = np.zeros(180)
    hist[14:20] = 100.0  # a "yellow" object that is golden (orange hues)
    arc = fit_source_arc(hist, P["yellow"])
    assert arc.width == P["yellow"].hue.width
    assert all(arc.contains(h) for h in range(14, 20))
    assert fit_source_arc(np.zeros(180), P["yellow"]) is None  # too little weight
    assert fit_source_arc(hist, P["white"]) is None  # achromatic: nothing to fit


def test_fit_source_arc_wraps_for_red():
    hist = np.zeros(180)
    hist[[176, 177, 178, 179, 0, 1, 2]] = 50.0
    arc = fit_source_arc(hist, P["red"])
    assert all(arc.contains(h) for h in (176, 179, 0, 2))


def test_fit_source_arc_follows_the_caption_not_the_biggest_part():
    """A red bus with large bluish windows: the windows outweigh the body, but only arcs
    overlapping the caption's red arc may win."""
    hist = np.zeros(180)
    hist[105:115] = 500.0  # windows
    hist[[178, 179, 0, 1, 2]] = 60.0  # the red body
    arc = fit_source_arc(hist, P["red"])
    assert all(arc.contains(h) for h in (178, 0, 2))
    assert not any(arc.contains(h) for h in range(100, 120))


def test_target_boxes_are_validated():
    with pytest.raises(ValueError, match="v_box"):
        Palette.from_dict({"colors": [{"name": "blue", "v_box": [200, 100]}]})


def test_overrides_from_json(tmp_path):
    f = tmp_path / "palette.json"
    f.write_text(json.dumps({"colors": [{"name": "blue", "target_hue": [110, 115]}],
                             "thresholds": {"black_v_max": 30}}))
    p = Palette.from_json(f)
    assert p["blue"].target_hue == HueArc(110, 115)
    assert p["blue"].hue == P["blue"].hue  # untouched fields come from the default
    assert p.thresholds.black_v_max == 30
    assert p.names == P.names
    round_trip = Palette.from_dict(p.to_dict())
    assert round_trip == p


def test_bad_palette_files_are_named(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        Palette.from_json(f)
    with pytest.raises(ValueError, match="unknown fields"):
        Palette.from_dict({"colors": [{"name": "blue", "hue_range": [1, 2]}]})
