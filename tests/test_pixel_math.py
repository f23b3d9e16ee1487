"""Golden values: the shared per-pixel header (through the CPU extension) and the
reference against OpenCV."""

import cv2
import numpy as np
import pytest

from colorist.palette import DEFAULT_PALETTE as P
from colorist.recolor import plan_params, recolor_reference
from colorist.recolor.plan import MODE_COPY, MODE_HSV, MODE_LAB, PARAM_FIELDS
from colorist.recolor.reference import hue_histogram, lab_to_rgb, map_hue, rgb_to_lab

C = pytest.importorskip("colorist._C")
F = {k: i for i, k in enumerate(PARAM_FIELDS)}


@pytest.fixture(scope="module")
def rgb_cube():
    r, g, b = np.meshgrid(np.arange(256), np.arange(256), np.arange(256), indexing="ij")
    return np.stack([r, g, b], -1).astype(np.uint8).reshape(4096, 4096, 3)


def test_header_rgb_to_hsv_equals_opencv_on_every_colour(rgb_cube):
    assert np.array_equal(C.rgb_to_hsv(rgb_cube), cv2.cvtColor(rgb_cube, cv2.COLOR_RGB2HSV))


def test_header_lab_matches_reference(rgb_cube):
    sub = rgb_cube[::7, ::5]
    assert np.abs(C.rgb_to_lab(sub) - rgb_to_lab(sub)).max() < 2e-3


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


def test_red_to_blue_golden():
    # (200, 20, 20) has OpenCV HSV (0, 229, 200): hue 0 sits 10 into red's arc [170, 10),
    # so it lands 10/20 of the way into blue's target arc [106, 120): hue 113.
    rgb = np.array([[[200, 20, 20]]], np.uint8)
    assert cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[0, 0].tolist() == [0, 229, 200]
    out = recolor_reference(rgb, np.ones((1, 1)), plan_params("red", ["blue"]))[0, 0, 0]
    expect = cv2.cvtColor(np.array([[[226.0, 229 / 255, 200 / 255]]], np.float32),
                          cv2.COLOR_HSV2RGB)[0, 0]
    assert out.tolist() == np.rint(expect * 255).astype(int).tolist()
    assert cv2.cvtColor(out[None, None], cv2.COLOR_RGB2HSV)[0, 0, 0] in (112, 113, 114)


def test_hue_map_is_continuous_monotone_and_never_collapses():
    row = plan_params("red", ["blue"])[0]
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
    brown = plan_params("orange", ["brown"])[0]
    assert brown[F["v_mul"]] < 0.5  # brown <-> orange by V


def test_header_hue_histogram_matches_reference(rng):
    img = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (40, 50), dtype=np.uint8)
    expect = hue_histogram(img, mask, 45, 50)
    assert np.array_equal(C.hue_histograms([img], [mask], 45, 50)[0], expect)
    assert expect.sum() > 0


def test_achromatic_targets_land_in_their_band(rng):
    img = rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)
    out = recolor_reference(img, np.ones((30, 30)), plan_params("red", ["white", "gray", "black"]))
    for k, name in enumerate(["white", "gray", "black"]):
        labels = P.classify_rgb(out[k])
        assert (labels == P.index(name)).mean() > 0.97, name
