"""Golden values and rules of the per-pixel contract: the reference against OpenCV, the
shared header (through the CPU extension) against the reference, the parameter plan."""

import cv2
import numpy as np
import pytest

from colorist.naming import load_namer
from colorist.palette import DEFAULT_PALETTE as P
from colorist.recolor import plan_params, recolor_reference
from colorist.recolor.plan import (
    C_HEADER,
    MAX_S_SLOPE,
    MODE_COPY,
    MODE_HSV,
    MODE_LAB,
    SourceBox,
    _row,
    box_map,
    c_header_text,
    plan_row,
)
from colorist.recolor.plan import (
    PARAM_INDEX as F,
)
from colorist.recolor.reference import blend, lab_to_rgb, map_hue, rgb_to_lab


@pytest.fixture(scope="module")
def C():
    """The compiled extension; only the tests that use it skip without it."""
    return pytest.importorskip("colorist._C", reason="the CPU extension is not built")


@pytest.fixture(scope="module")
def rgb_cube():
    r, g, b = np.meshgrid(np.arange(256), np.arange(256), np.arange(256), indexing="ij")
    return np.stack([r, g, b], -1).astype(np.uint8).reshape(4096, 4096, 3)


def test_header_rgb_to_hsv_equals_opencv_on_every_colour(C, rgb_cube):
    assert np.array_equal(C.rgb_to_hsv(rgb_cube), cv2.cvtColor(rgb_cube, cv2.COLOR_RGB2HSV))


def test_header_lab_matches_reference(C, rgb_cube):
    sub = rgb_cube[::7, ::5]
    assert np.abs(C.rgb_to_lab(sub) - rgb_to_lab(sub)).max() < 2e-3


def test_parameter_layout_header_is_generated_from_plan():
    """PARAM_FIELDS is the one definition: the C header must be its current rendering
    (``python -m colorist.recolor.plan`` regenerates it)."""
    assert C_HEADER.read_text() == c_header_text()
    assert "P_S_TC = 10," in c_header_text()


def test_extension_was_built_with_this_layout(C):
    assert len(F) == C.NUM_PARAMS


def test_reference_lab_close_to_opencv_and_inverts(rgb_cube):
    sub = rgb_cube[::11, ::3]
    ocv = cv2.cvtColor(sub.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    assert np.abs(rgb_to_lab(sub) - ocv).max() < 1.0  # OpenCV's float Lab is tabulated
    back = np.rint(lab_to_rgb(rgb_to_lab(sub)) * 255)
    assert np.array_equal(back, sub)


def test_lab_golden_values():
    lab = rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)  # CIE sRGB red


def _red_to_blue_row() -> np.ndarray:
    return _row(mode=MODE_HSV, src_lo=170, src_w=20, tgt_lo=106, tgt_w=14, rel_lo=12,
                rel_inv=1 / 28, tgt_hc=113, s_tc=200)


def test_red_to_blue_golden():
    # (200, 20, 20) has OpenCV HSV (0, 229, 200): hue 0 sits 10 into the arc [170, 10),
    # so it lands 10/20 of the way into the target arc [106, 120): hue 113; S and V kept.
    rgb = np.array([[[200, 20, 20]]], np.uint8)
    assert cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[0, 0].tolist() == [0, 229, 200]
    out = recolor_reference(rgb, np.full((1, 1), 255, np.uint8), _red_to_blue_row()[None])
    expect = cv2.cvtColor(np.array([[[226.0, 229 / 255, 200 / 255]]], np.float32),
                          cv2.COLOR_HSV2RGB)[0, 0]
    assert out[0, 0, 0].tolist() == np.rint(expect * 255).astype(int).tolist()


def test_unreliable_hue_takes_the_target_hue_and_saturation():
    """A near-grey pixel's hue is noise: it lands on the target hue centre with the target
    saturation, whatever its own hue; a clear pixel follows the map."""
    row = _red_to_blue_row()
    greyish = np.array([[[60, 58, 50]], [[58, 60, 50]]], np.uint8)  # S x V / 255 ~ 10
    out = recolor_reference(greyish, np.full((2, 1), 255, np.uint8), row[None])[0]
    hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)[:, 0]
    assert hsv[0, 0] == hsv[1, 0] and abs(int(hsv[0, 0]) - 113) <= 1
    assert abs(int(hsv[0, 1]) - 200) <= 2


def test_blend_rule_is_exact_integer_arithmetic(rng):
    orig = rng.integers(0, 256, (1000, 3), dtype=np.uint8)
    rec = rng.integers(0, 256, (1000, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, 1000, dtype=np.uint8)
    got = blend(orig, rec, alpha).astype(np.int64)
    a = alpha.astype(np.int64)[:, None]
    assert np.array_equal(got, (orig * (255 - a) + rec * a + 127) // 255)
    assert np.array_equal(blend(orig, rec, np.zeros(1000, np.uint8)), orig)
    assert np.array_equal(blend(orig, rec, np.full(1000, 255, np.uint8)), rec)


def test_alpha_zero_pixels_are_bit_identical(rng):
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    alpha[::3] = 0
    out = recolor_reference(img, alpha, plan_params("red", ["blue", "white", "pink"]))
    zero = alpha == 0
    assert np.array_equal(out[:, zero], np.broadcast_to(img[zero], (3, zero.sum(), 3)))
    assert not np.array_equal(out[0], img)  # and the rest did change


def test_hue_map_is_continuous_monotone_and_never_collapses():
    row = _red_to_blue_row()
    h = np.arange(0, 180, 0.25, dtype=np.float32)
    y = map_hue(h, row)
    assert len(np.unique(y)) == len(h)  # no two hues collapse onto one
    u = (h - row[F["src_lo"]]) % 180  # walk the circle from the source arc's start
    order = np.argsort(u)
    steps = np.diff((y[order] - y[order][0]) % 180)
    assert (steps > 0).all()  # monotone around the circle: no wrap-around jumps
    assert ((y >= 0) & (y < 180)).all()


def test_plan_modes():
    rows = plan_params("red", ["red", "blue", "white"])
    assert rows[:, F["mode"]].tolist() == [MODE_COPY, MODE_HSV, MODE_HSV]
    assert rows[2, F["src_w"]] == 0  # achromatic target keeps hue
    assert plan_params("white", ["blue"])[0, F["mode"]] == MODE_LAB
    assert plan_params("white", ["black"])[0, F["mode"]] == MODE_HSV
    orange, brown = plan_params("red", ["orange", "brown"])
    v = 150.0  # brown is a dark orange: the same pixel lands far darker
    assert v * brown[F["v_mul"]] + brown[F["v_add"]] < 0.6 * (
        v * orange[F["v_mul"]] + orange[F["v_add"]])


def test_box_map_maps_centre_to_centre_with_a_capped_slope():
    mul, add = box_map((100, 140), (200, 240), 1.5)
    assert mul == 1.0 and 120 * mul + add == 220
    mul, add = box_map((100, 110), (0, 255), 1.5)  # a flat object is not stretched 25x
    assert mul == 1.5 and 105 * mul + add == 127.5


def test_dark_or_pale_source_gets_a_narrower_hue_spread():
    """Hue noise shows in proportion to chroma: a pale object's hue spread is narrowed
    before it becomes a saturated target; a saturated object keeps the target arc."""
    pale = SourceBox(P["yellow"].hue, (15, 90), (80, 230))
    vivid = SourceBox(P["yellow"].hue, (180, 255), (180, 255))
    narrow = plan_row(P["yellow"], P["red"], pale)
    wide = plan_row(P["yellow"], P["red"], vivid)
    assert narrow[F["tgt_w"]] < wide[F["tgt_w"]] == P["red"].target_hue.width
    assert narrow[F["s_mul"]] <= MAX_S_SLOPE


def test_lab_mode_keeps_lightness_detail_within_the_target_range():
    white_obj = SourceBox(None, (0, 20), (150, 255), 80.0, 1.0, (70.0, 90.0))
    row = plan_row(P["white"], P["pink"], white_obj)
    assert row[F["mode"]] == MODE_LAB
    assert row[F["l_mul"]] <= 1.0
    lab = rgb_to_lab(np.array([P["pink"].rgb], np.uint8))[0]
    np.testing.assert_allclose([row[F["a_tgt"]], row[F["b_tgt"]]], lab[1:], atol=1e-3)


@pytest.mark.parametrize("target", ["white", "gray", "black"])
def test_achromatic_targets_are_named_so_by_people(rng, target):
    """Random pixels of a red object (within the palette's red box, the default source
    box), recoloured into white/gray/black, are named that by the human colour namer."""
    hsv = np.stack([rng.integers(172, 188, 900) % 180, rng.integers(170, 256, 900),
                    rng.integers(120, 226, 900)], -1).astype(np.uint8).reshape(30, 30, 3)
    img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    out = recolor_reference(img, np.full((30, 30), 255, np.uint8), plan_params("red", [target]))
    names = load_namer().name_pixels(out[0])
    assert (names == load_namer().terms.index(target)).mean() > 0.9
