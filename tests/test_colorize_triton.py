"""The fused Triton encoder (kernels/colorize_triton.py) against the numpy reference
(colorist/colorize/encode.py). Without a GPU it runs in Triton's interpreter (conftest sets
TRITON_INTERPRET=1 before the kernels are imported); images are kept small for it."""

import numpy as np
import pytest
import torch

from colorist.colorize import SoftEncoding, dense_targets, gamut_bins, soft_encode_reference
from colorist.recolor.gpu_backends import triton_unavailable
from colorist.recolor.reference import rgb_to_lab

BINS = gamut_bins()


def _encode_triton(img: np.ndarray, enc: SoftEncoding):
    why = triton_unavailable()
    if why is not None:
        pytest.skip(why[:80])
    from colorist.kernels.colorize_triton import soft_encode_triton

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    out = soft_encode_triton(torch.from_numpy(img).to(dev), torch.from_numpy(np.array(BINS)),
                             enc.k, enc.sigma, enc.stride)
    return tuple(x.cpu().numpy() for x in out)


def _ambiguous(img: np.ndarray, enc: SoftEncoding, tol: float = 1e-3) -> np.ndarray:
    """``(B, h, w)``: cells whose k-th and (k+1)-th nearest bins are (nearly) equidistant,
    where float32 and float64 Lab may rank them differently."""
    ab = rgb_to_lab(img)[:, :: enc.stride, :: enc.stride, 1:]
    d = np.sort(np.linalg.norm(ab[..., None, :] - BINS.astype(np.float64), axis=-1), -1)
    return d[..., enc.k] - d[..., enc.k - 1] < tol


def special_pixels() -> np.ndarray:
    """Greys (ab on a bin, ties between its 4 neighbours), primaries, extremes."""
    px = [(v, v, v) for v in (0, 1, 50, 128, 254, 255)]
    px += [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
           (255, 0, 255), (1, 0, 0), (255, 254, 254), (30, 90, 200), (200, 120, 40)]
    return np.array(px, np.uint8)[None, None]


CASES = [((1, 1, 1), SoftEncoding(5, 5.0, 4)), ((2, 17, 23), SoftEncoding(5, 5.0, 4)),
         ((1, 9, 5), SoftEncoding(1, 5.0, 1)), ((1, 8, 12), SoftEncoding(10, 10.0, 2))]


@pytest.mark.parametrize("shape,enc", CASES, ids=["1x1", "17x23-b2", "k1-s1", "k10-sigma10"])
def test_triton_encoder_matches_numpy(shape, enc, rng):
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    L, idx, w = _encode_triton(img, enc)
    Lr, idxr, wr = soft_encode_reference(img, BINS, enc)
    assert L.shape == Lr.shape and idx.shape == idxr.shape and w.shape == wr.shape
    assert idx.dtype == np.int64 and w.dtype == np.float32
    np.testing.assert_allclose(L, Lr, atol=2e-3)
    np.testing.assert_allclose(w.sum(1), 1, atol=1e-5)
    clear = ~_ambiguous(img, enc)
    assert np.array_equal(idx[:, 0][clear], idxr[:, 0][clear])  # the nearest bin
    dense, dense_ref = dense_targets(idx, w, len(BINS)), dense_targets(idxr, wr, len(BINS))
    np.testing.assert_allclose(np.moveaxis(dense, 1, -1)[clear],
                               np.moveaxis(dense_ref, 1, -1)[clear], atol=1e-4)


def test_triton_encoder_special_pixels():
    img = special_pixels()
    enc = SoftEncoding(5, 5.0, 1)
    L, idx, w = _encode_triton(img, enc)
    Lr, idxr, wr = soft_encode_reference(img, BINS, enc)
    np.testing.assert_allclose(L, Lr, atol=2e-3)
    # greys: the centre bin first, its 4 equidistant neighbours (any order) after it
    grey = slice(0, 6)
    assert np.array_equal(idx[0, 0, 0, grey], idxr[0, 0, 0, grey])
    np.testing.assert_allclose(dense_targets(idx, w, len(BINS)),
                               dense_targets(idxr, wr, len(BINS)), atol=1e-4)


def test_triton_encoder_empty_batch():
    L, idx, w = _encode_triton(np.zeros((0, 8, 8, 3), np.uint8), SoftEncoding())
    assert L.shape == (0, 1, 8, 8) and idx.shape == w.shape == (0, 5, 2, 2)
