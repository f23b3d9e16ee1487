"""The CPU backend's explicit AVX2 loops against its portable loops: the same bytes.

The AVX2 path (csrc/recolor_cpu.cpp: recolor_tile_hsv_avx2, blend_tile_avx2) repeats the
shared header's per-pixel float operations in the same order, so its output must equal the
portable path's for every pixel, not only within the 1 LSB the backends owe the reference.
One image holds all 2^24 RGB colours, with alphas that cycle through 0..255, so every HSV
input meets every blend weight.
"""

import numpy as np
import pytest

from colorist.palette import DEFAULT_PALETTE
from colorist.recolor.plan import NUM_PARAMS, PARAM_INDEX, plan_batch

_C = pytest.importorskip("colorist._C")

needs_avx2 = pytest.mark.skipif(
    _C.set_simd(True) != "avx2", reason="the CPU has no AVX2: only the portable loop exists"
)


@pytest.fixture(scope="module")
def every_colour():
    """(4096, 4096, 3): every RGB triple once; alpha: 0..255 in a stride that mixes them."""
    rgb = np.arange(2**24, dtype=np.uint32)
    image = np.stack([(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255], -1).astype(np.uint8)
    alpha = ((rgb * 2654435761) >> 24).astype(np.uint8)  # a multiplicative hash: all values
    return image.reshape(4096, 4096, 3), alpha.reshape(4096, 4096)


def _rows() -> np.ndarray:
    """HSV rows of the real plan (incl. red's wrap) and edge rows: width 0 (keep hue), a
    source arc across 0, saturation and value pushed past their clamps."""
    rows = plan_batch(["red", "blue", "green"], [["pink", "cyan"], ["yellow", "orange"],
                                                 ["purple", "brown"]], DEFAULT_PALETTE)
    rows = rows.reshape(-1, NUM_PARAMS)
    rows = rows[rows[:, PARAM_INDEX["mode"]] == 0]
    field = PARAM_INDEX
    keep = rows[0].copy()
    keep[field["src_w"]] = 0.0
    wrap = rows[1].copy()
    wrap[field["src_lo"]], wrap[field["tgt_lo"]] = 175.0, 170.0
    push = rows[2].copy()
    push[field["s_mul"]], push[field["s_add"]] = 2.5, -40.0
    push[field["v_mul"]], push[field["v_add"]] = 1.6, 30.0
    return np.concatenate([rows, keep[None], wrap[None], push[None]]).astype(np.float32)


def _run(image, alpha, params, simd: bool) -> np.ndarray:
    assert _C.set_simd(simd) == ("avx2" if simd else "portable")
    try:
        out = np.empty((params.shape[0],) + image.shape, np.uint8)
        _C.recolor_batch([image], [alpha], params[None], [out], 2)
        return out
    finally:
        _C.set_simd(True)


@needs_avx2
def test_avx2_loops_equal_the_portable_ones_on_every_colour(every_colour):
    image, alpha = every_colour
    rows = _rows()
    assert len(rows) >= 6
    for first in range(0, len(rows), 3):  # 3 variants a pass: 150 MB of output at a time
        params = rows[first:first + 3]
        fast, portable = (_run(image, alpha, params, simd) for simd in (True, False))
        differ = np.argwhere((fast != portable).any(-1))
        assert len(differ) == 0, (
            f"rows {first}..: {len(differ)} pixels differ, first "
            f"{tuple(differ[0])} rgb={image[tuple(differ[0][1:])]}")


@needs_avx2
def test_ragged_tiles_and_alpha_zero_runs_match(every_colour):
    """Widths that leave partial tiles (n % 8 != 0), and alpha-0 stretches inside them."""
    image, alpha = every_colour
    params = _rows()[:2]
    for h, w in ((1, 1), (3, 7), (17, 33), (5, 130)):
        img = np.ascontiguousarray(image[1000:1000 + h, 77:77 + w])
        a = np.ascontiguousarray(alpha[1000:1000 + h, 77:77 + w])
        a[:, ::5] = 0
        fast, portable = (_run(img, a, params, simd) for simd in (True, False))
        np.testing.assert_array_equal(fast, portable)
        zero = a == 0
        for v in range(len(params)):
            np.testing.assert_array_equal(fast[v][zero], img[zero])  # alpha 0: the input


def test_float_blend_equals_the_integer_rule_for_every_input():
    """blend_channel's float form: truncating (rec * a + orig * (255 - a) + 127.5) / 255
    gives (orig * (255 - a) + rec * a + 127) // 255 for all 2^24 (orig, rec, a)."""
    o = np.arange(256, dtype=np.int64)[:, None, None]
    r = np.arange(256, dtype=np.int64)[None, :, None]
    a = np.arange(256, dtype=np.int64)[None, None, :]
    exact = (o * (255 - a) + r * a + 127) // 255
    base = (o * (255 - a)).astype(np.float32) + np.float32(127.5)
    m = r.astype(np.float32) * a.astype(np.float32) + base
    fast = (m * np.float32(1.0 / 255.0)).astype(np.int64)  # truncation, as cvttps2dq
    np.testing.assert_array_equal(fast, exact)
