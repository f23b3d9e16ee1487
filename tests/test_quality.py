"""The judge of recolours (colorist.quality): it must reject what people would reject."""

import numpy as np
import pytest

from colorist.quality import MAX_NOISE, judge_variants, summarize
from colorist.recolor import recolor


@pytest.fixture(scope="module")
def bus(demo_objects):
    return next(o for o in demo_objects if "bus" in o[0])


def test_a_good_recolour_passes(bus):
    _, image, mask, color = bus
    (q,) = judge_variants(image, mask, color, {"blue": recolor(image, mask, color, ["blue"])[0]})
    assert q.good, q.failure()
    assert q.hit > 0.9 and q.body_name == "red"


def test_a_wrong_recolour_is_rejected(bus):
    """A variant labelled green that is in fact blue: the body is not named green."""
    _, image, mask, color = bus
    blue = recolor(image, mask, color, ["blue"])[0]
    (q,) = judge_variants(image, mask, color, {"green": blue})
    assert not q.good and q.hit < 0.1
    assert "named green" in q.failure()


def test_an_untouched_image_is_rejected(bus):
    _, image, mask, color = bus
    (q,) = judge_variants(image, mask, color, {"yellow": image.copy()})
    assert not q.good and q.hit < 0.05


def test_chroma_speckle_is_caught(bus, rng):
    """Per-pixel hue noise inside the body: the CIEDE2000-weighted a*b* energy rises."""
    _, image, mask, color = bus
    variant = recolor(image, mask, color, ["blue"])[0].astype(int)
    noise = rng.integers(-90, 91, variant.shape[:2])  # visible speckle on a JPEG-noisy bus
    variant[..., 0] += noise * (mask > 0)
    variant[..., 2] -= noise * (mask > 0)
    (q,) = judge_variants(image, mask, color, {"blue": np.clip(variant, 0, 255).astype(np.uint8)})
    assert q.chroma_noise > MAX_NOISE and not q.good
    assert "chroma noise" in q.failure()


def test_recoloured_windows_are_collateral(bus):
    """The v1 way: every masked pixel recoloured, so the bluish windows turn green too."""
    _, image, mask, color = bus
    everything = recolor(image, mask, color, ["green"], selective=False)[0]
    (q,) = judge_variants(image, mask, color, {"green": everything})
    assert q.collateral > 0.10 and not q.good
    assert "collateral" in q.failure()


def test_summary_counts_good_variants(bus):
    _, image, mask, color = bus
    outs = recolor(image, mask, color, ["blue", "yellow"])
    qs = judge_variants(image, mask, color, {"blue": outs[0], "green": outs[1]})
    s = summarize(qs)
    assert s["all"]["variants"] == 2 and s["all"]["good"] == 1
    assert s["by_target"]["green"]["good_rate"] == 0.0


def test_empty_mask_is_an_error(bus):
    _, image, _, color = bus
    with pytest.raises(ValueError, match="empty mask"):
        judge_variants(image, np.zeros(image.shape[:2]), color, {"blue": image})
