"""Property tests (hypothesis): every backend against the reference on generated inputs:
any size, any alpha, any source box, any pair of colours."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from colorist.palette import DEFAULT_PALETTE as P
from colorist.palette import HueArc
from colorist.recolor import plan_batch, recolor_reference
from colorist.recolor.backends import BACKENDS
from colorist.recolor.plan import SourceBox

NAMES = list(P.names)
HOST = [n for n in ("cpu",) if BACKENDS[n].unavailable() is None]
EMULATED = [n for n in ("triton",) if BACKENDS[n].unavailable() is None]

pairs = st.tuples(st.integers(0, 255), st.integers(0, 255)).map(sorted).filter(
    lambda p: p[0] < p[1])


@st.composite
def boxes(draw):
    """A source box as the pre-pass could measure it (or None: the palette's)."""
    if draw(st.booleans()):
        return None
    arc = None
    if draw(st.booleans()):
        lo = draw(st.integers(0, 179))
        arc = HueArc(float(lo), float((lo + draw(st.integers(5, 45))) % 180))
    l_lo = draw(st.floats(0, 90))
    return SourceBox(arc, tuple(draw(pairs)), tuple(draw(pairs)), draw(st.floats(0, 100)),
                     1.0, (l_lo, l_lo + draw(st.floats(1, 10))))


@st.composite
def cases(draw, max_side=24):
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    kind = draw(st.sampled_from(["zero", "full", "soft", "sparse"]))
    alpha = {"zero": np.zeros((h, w), np.uint8), "full": np.full((h, w), 255, np.uint8),
             "soft": rng.integers(0, 256, (h, w), dtype=np.uint8),
             "sparse": (rng.random((h, w)) < 0.1) * rng.integers(1, 256, (h, w))}[kind]
    source = draw(st.sampled_from(NAMES))
    targets = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5))
    return image, np.ascontiguousarray(alpha, np.uint8), source, targets, draw(boxes())


def agrees_with_reference(name, image, alpha, source, targets, box):
    params = plan_batch([source], [targets], boxes=[box])
    out = BACKENDS[name].run([image], [alpha], params, 0)[0]
    out = out.cpu().numpy() if hasattr(out, "cpu") else out
    ref = recolor_reference(image, alpha, params[0])
    zero = alpha == 0
    assert np.array_equal(out[:, zero], ref[:, zero])
    assert np.array_equal(out[:, zero], np.broadcast_to(image[zero], out[:, zero].shape))
    assert np.abs(out.astype(np.int16) - ref).max(initial=0) <= 1
    for k, t in enumerate(targets):  # a copy row keeps every pixel
        if t == source:
            assert np.array_equal(out[k], image)


@pytest.mark.parametrize("name", HOST)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(max_side=48))
def test_host_backends_match_the_reference(name, case):
    agrees_with_reference(name, *case)


@pytest.mark.parametrize("name", EMULATED)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(max_side=12))
def test_triton_interpreter_matches_the_reference(name, case):
    agrees_with_reference(name, *case)


@settings(max_examples=100, deadline=None)
@given(case=cases(max_side=16))
def test_blend_stays_between_original_and_recolour(case):
    """Each output channel lies between the original and the full-alpha recolour."""
    image, alpha, source, targets, box = case
    params = plan_batch([source], [targets], boxes=[box])[0]
    full = recolor_reference(image, np.full(alpha.shape, 255, np.uint8), params).astype(int)
    out = recolor_reference(image, alpha, params).astype(int)
    lo = np.minimum(full, image.astype(int))
    hi = np.maximum(full, image.astype(int))
    assert ((out >= lo) & (out <= hi)).all()
