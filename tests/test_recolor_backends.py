"""Every backend against the numpy/OpenCV reference: bit-identical where alpha is 0 (outside
the mask), at most 1 LSB apart elsewhere, for any uint8 alpha."""

import numpy as np
import pytest

from colorist.palette import DEFAULT_PALETTE as P
from colorist.recolor import plan_batch, recolor_reference
from colorist.recolor.backends import BACKENDS
from colorist.recolor.plan import SourceBox

from .conftest import backend_or_skip

ALL = list(P.names)
NATIVE = [name for name in BACKENDS if name != "reference"]


def emulated(name):
    """Triton's CPU interpreter runs ~10^5 px/s: big cases are subsampled under it."""
    return BACKENDS[name].emulated()


def as_alpha(mask, rng=None):
    """A mask as the kernels' uint8 alpha: 0 outside; inside 255, or random soft values."""
    m = np.asarray(mask) > 0
    if rng is None:
        return np.ascontiguousarray(m * np.uint8(255))
    return np.ascontiguousarray(m * rng.integers(1, 256, m.shape).astype(np.uint8))


# Measured source boxes of real objects differ from the palette's: dark, pale, wide.
BOXES = [None, SourceBox(None, (10, 90), (20, 80), 30.0, 1.0, (10.0, 35.0)),
         SourceBox(None, (0, 255), (0, 255), 60.0, 1.0, (0.0, 100.0))]


def check_against_reference(name, images, masks, sources, targets, rng=None, box=None):
    impl = backend_or_skip(name)
    images = [np.ascontiguousarray(im) for im in images]
    masks = [as_alpha(m, rng) for m in masks]
    params = plan_batch(sources, targets, boxes=[box] * len(images))
    outs = impl.run(images, masks, params, 0)
    for im, m, p, out in zip(images, masks, params, outs):
        out = out.cpu().numpy() if hasattr(out, "cpu") else out  # GPU backends: torch
        ref = recolor_reference(im, m, p)
        assert out.shape == ref.shape and out.dtype == np.uint8
        outside = m == 0
        assert np.array_equal(out[:, outside], ref[:, outside])
        assert np.array_equal(out[:, outside], np.broadcast_to(im[outside], out[:, outside].shape))
        diff = np.abs(out.astype(np.int16) - ref.astype(np.int16))
        assert diff.max(initial=0) <= 1


@pytest.mark.parametrize("name", NATIVE)
@pytest.mark.parametrize("source", ALL)
@pytest.mark.parametrize("box", [0, 1, 2])
def test_random_images_every_source_every_target(name, source, box, rng):
    img = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (37, 53), dtype=np.uint8)
    check_against_reference(name, [img], [mask], [source], [ALL], rng, BOXES[box])


@pytest.mark.parametrize("name", NATIVE)
@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (2, 1), (128, 3)])
@pytest.mark.parametrize("mask_kind", ["empty", "full", "random"])
def test_odd_sizes_and_masks(name, shape, mask_kind, rng):
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    mask = {"empty": np.zeros(shape), "full": np.full(shape, 255),
            "random": rng.integers(0, 2, shape)}[mask_kind]
    check_against_reference(name, [img], [mask], ["red"], [["blue", "white", "yellow"]], rng)


def special_pixels():
    """Grey pixels, hue ties (two channels equal the max), red wrap, extremes."""
    px = [(v, v, v) for v in (0, 1, 2, 50, 127, 128, 254, 255)]
    px += [(255, 255, 0), (0, 255, 255), (255, 0, 255), (200, 200, 10), (10, 200, 200),
           (200, 10, 200), (255, 0, 1), (255, 1, 0), (254, 0, 3), (250, 0, 7), (1, 0, 0),
           (0, 1, 0), (0, 0, 1), (255, 254, 254)]
    return np.array(px, np.uint8)[None]


@pytest.mark.parametrize("name", NATIVE)
@pytest.mark.parametrize("source", ["red", "white", "gray", "brown"])
def test_grey_pixels_hue_ties_red_wrap(name, source):
    img = special_pixels()
    check_against_reference(name, [img], [np.ones(img.shape[:2])], [source], [ALL])


@pytest.mark.parametrize("name", NATIVE)
def test_every_rgb_value_once(name):
    r, g, b = np.meshgrid(np.arange(0, 256, 3), np.arange(0, 256, 5), np.arange(256),
                          indexing="ij")
    img = np.stack([r, g, b], -1).astype(np.uint8).reshape(-1, 256, 3)
    if emulated(name):
        img = np.ascontiguousarray(img[::37])
    check_against_reference(name, [img], [np.ones(img.shape[:2])], ["red"], [["blue", "pink"]])


@pytest.mark.parametrize("name", NATIVE)
def test_mixed_size_batch_with_different_sources(name, rng):
    shapes = [(5, 7), (64, 48), (1, 300), (33, 17)]
    images = [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]
    masks = [rng.integers(0, 2, s) for s in shapes]
    sources = ["red", "white", "green", "black"]
    targets = [["blue", "yellow"], ["pink", "gray"], ["red", "brown"], ["cyan", "white"]]
    check_against_reference(name, images, masks, sources, targets, rng)


@pytest.mark.parametrize("name", NATIVE)
def test_more_variants_than_one_pass(name, rng):
    img = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    targets = (ALL * 4)[:40]  # 40 > the CPU kernel's 32 variants per pass
    check_against_reference(name, [img], [rng.integers(0, 2, (9, 11))], ["green"], [targets],
                            rng)


@pytest.mark.parametrize("name", NATIVE)
def test_real_coco_images_with_their_prepass(name, demo_objects):
    """The whole path: the pre-pass's alphas and boxes of real objects, every backend."""
    from colorist.recolor.prepass import prepass

    impl = backend_or_skip(name)
    step = 10 if emulated(name) else 1
    images = [np.ascontiguousarray(im[::step, ::step]) for _, im, _, _ in demo_objects]
    masks = [np.ascontiguousarray(m[::step, ::step]) for _, _, m, _ in demo_objects]
    sources = [c for _, _, _, c in demo_objects]
    targets = [[t for t in ["red", "blue", "white", "brown", "yellow"] if t != s][:4]
               for s in sources]
    alphas, boxes = prepass(images, masks, sources, P)
    params = plan_batch(sources, targets, boxes=boxes)
    outs = impl.run(images, alphas, params, 0)
    for im, a, p, out in zip(images, alphas, params, outs):
        out = out.cpu().numpy() if hasattr(out, "cpu") else out
        ref = recolor_reference(im, a, p)
        assert np.array_equal(out[:, a == 0], ref[:, a == 0])
        assert np.abs(out.astype(np.int16) - ref).max() <= 1
