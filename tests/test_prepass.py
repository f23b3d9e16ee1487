"""The per-object pre-pass: selective soft alpha and the measured source box."""

import cv2
import numpy as np
import pytest

from colorist.palette import DEFAULT_PALETTE as P
from colorist.recolor.prepass import (
    PrepassConfig,
    edge_feather,
    guided_filter,
    object_alpha,
    source_box,
)


def hsv_image(h, s, v, shape=(60, 80)):
    return cv2.cvtColor(np.full((*shape, 3), (h, s, v), np.uint8), cv2.COLOR_HSV2RGB)


def red_bus(rng):
    """A red body (with JPEG-like noise) with bluish windows, grey tyres, white lettering."""
    img = hsv_image(178, 210, 190, (80, 120))
    noise = rng.integers(-6, 7, img.shape)
    img = np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)
    img[10:30, 10:110] = hsv_image(110, 120, 170, (20, 100))  # windows
    img[62:75, 15:35] = (45, 45, 48)  # tyre
    img[62:75, 85:105] = (45, 45, 48)
    img[40:46, 30:90] = (240, 240, 240)  # lettering
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[5:78, 5:115] = 1
    return img, mask


def test_alpha_is_zero_outside_the_mask_and_full_on_the_body(rng):
    img, mask = red_bus(rng)
    alpha, box = object_alpha(img, mask, P["red"], P)
    assert alpha.dtype == np.uint8 and alpha.shape == mask.shape
    assert (alpha[mask == 0] == 0).all()
    assert np.median(alpha[50:60, 40:80]) == 255  # body
    assert box.arc is not None and box.arc.contains(178)


@pytest.mark.parametrize("part", ["windows", "tyre", "lettering"])
def test_other_parts_keep_alpha_near_zero(rng, part):
    img, mask = red_bus(rng)
    alpha, _ = object_alpha(img, mask, P["red"], P)
    region = {"windows": (slice(14, 26), slice(20, 100)), "tyre": (slice(65, 72), slice(18, 32)),
              "lettering": (slice(41, 45), slice(36, 84))}[part]
    assert alpha[region].mean() < 20, alpha[region].mean()


def test_shadows_on_the_body_are_included(rng):
    img, mask = red_bus(rng)
    img[48:58, 40:80] = hsv_image(178, 200, 45, (10, 40))  # a deep shadow on the body
    alpha, _ = object_alpha(img, mask, P["red"], P)
    assert alpha[50:56, 45:75].mean() > 200


def test_edge_is_feathered_inside_the_mask_only():
    img = hsv_image(178, 210, 190)
    mask = np.zeros((60, 80), np.uint8)
    mask[10:50, 10:70] = 1
    alpha, _ = object_alpha(img, mask, P["red"], P)
    assert alpha[30, 9] == 0 and 0 < alpha[30, 10] < 255 and alpha[30, 14] == 255
    feather = edge_feather(mask, 2.0)
    # OpenCV's 3x3 L2 chamfer puts the edge pixel at 0.955 px: about half weight
    assert feather[30, 10] == pytest.approx(0.5, abs=0.03) and feather[30, 40] == 1.0


@pytest.mark.parametrize("shape", [(1, 1), (2, 1), (17, 33)])
@pytest.mark.parametrize("kind", ["empty", "full"])
def test_odd_sizes_empty_and_full_masks(shape, kind):
    img = hsv_image(178, 210, 190, shape)
    mask = np.zeros(shape, np.uint8) if kind == "empty" else np.ones(shape, np.uint8)
    alpha, box = object_alpha(img, mask, P["red"], P)
    assert alpha.shape == shape
    if kind == "empty":
        assert not alpha.any() and box.weight == 0
    else:
        assert alpha.max() > 0


def test_non_selective_alpha_is_the_feathered_mask(rng):
    img, mask = red_bus(rng)
    alpha, _ = object_alpha(img, mask, P["red"], P, PrepassConfig(selective=False))
    inner = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    assert (alpha[inner] == 255).all() and (alpha[mask == 0] == 0).all()


def test_white_object_takes_its_shade_but_not_its_windows():
    img = np.full((60, 80, 3), 235, np.uint8)
    img[30:55] = 150  # the same white in shade
    img[5:20, 10:70] = (40, 50, 60)  # dark windows
    img[40:50, 60:75] = (200, 30, 40)  # a red plate
    mask = np.ones((60, 80), np.uint8)
    alpha, box = object_alpha(img, mask, P["white"], P)
    assert alpha[35:50, 10:50].mean() > 200
    assert alpha[8:17, 15:65].mean() < 20
    assert alpha[42:48, 63:72].mean() < 20
    assert box.arc is None and box.lightness[1] > 85


def test_source_box_is_weighted_by_alpha():
    rgb = np.array([hsv_image(0, s, 200, (1, 1))[0, 0] for s in (50, 100, 150, 200)], np.uint8)
    alpha = np.array([0, 255, 255, 0], np.uint8)
    box = source_box(rgb, alpha, P["red"], None)
    assert 95 <= box.s[0] <= box.s[1] <= 155


def test_guided_filter_preserves_edges_and_smooths_noise(rng):
    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    p = guide + rng.normal(0, 0.2, guide.shape).astype(np.float32)
    q = guided_filter(guide, p, 4, 1e-2)
    assert q[:, :18].std() < p[:, :18].std() / 3  # noise smoothed
    assert q[:, 22:].mean() - q[:, :18].mean() > 0.9  # the edge stays
