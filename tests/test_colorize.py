"""Colourisation (colorist/colorize): ab bins, soft encoding, rebalancing, decoding, metrics,
the ECCV16 network and its weights. The Triton encoder: tests/test_colorize_triton.py; the
training, prediction and evaluation jobs: tests/test_colorize_jobs.py."""

import math

import numpy as np
import pytest
import torch

from colorist.colorize import (
    SoftEncoding,
    annealed_mean,
    build_model,
    dense_targets,
    gamut_bins,
    soft_encode,
    soft_encode_reference,
)
from colorist.colorize.metrics import auc, class_balance_weights, error_cdf
from colorist.colorize.rebalance import (
    rebalance_weights,
    rebalanced_cross_entropy,
    smoothed_prior,
)
from colorist.colorize.weights import (
    WeightsError,
    load_model,
    load_official,
    official_to_ours,
    save_model,
)

BINS = gamut_bins()


# ---- bins --------------------------------------------------------------------------------


def test_bin_count_and_extent():
    # 261 in-gamut cells (the paper's released set has 313: see colorist/colorize/bins.py)
    assert BINS.shape == (261, 2) and BINS.dtype == np.float32
    assert np.all(BINS % 10 == 0)
    assert BINS[:, 0].min() == -90 and BINS[:, 0].max() == 100
    assert BINS[:, 1].min() == -110 and BINS[:, 1].max() == 90
    assert len(np.unique(BINS, axis=0)) == len(BINS)
    assert [0, 0] in BINS.tolist()


def test_bins_are_the_gamut_of_an_independent_lab():
    """skimage's rgb2lab over the whole 8-bit cube (every 6th level and 255, interior
    included) hits exactly the same cells."""
    from skimage.color import rgb2lab

    v = np.append(np.arange(0, 256, 6), 255).astype(np.uint8)
    cube = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(1, -1, 3)
    ab = rgb2lab(cube / 255.0)[0, :, 1:]
    cells = {tuple(c) for c in (np.round(ab / 10) * 10).astype(int)}
    assert cells == {tuple(c) for c in BINS.astype(int)}


def test_bins_other_grid_and_bad_grid():
    coarse = gamut_bins(20)
    assert len(coarse) == 77 and np.all(coarse % 20 == 0)
    with pytest.raises(ValueError, match="grid"):
        gamut_bins(0)


# ---- soft encoding -----------------------------------------------------------------------


def test_grey_pixel_hand_computed_weights():
    """ab = (0, 0) sits on a bin; its 4 next bins lie at distance 10: weights e^-2 each
    (sigma 5: exp(-100 / 50)), the centre 1, normalised."""
    img = np.full((4, 4, 3), 128, np.uint8)
    L, idx, w = soft_encode_reference(img, BINS, SoftEncoding(k=5, sigma=5.0))
    assert L.shape == (1, 1, 4, 4) and idx.shape == w.shape == (1, 5, 1, 1)
    got = {tuple(BINS[i].astype(int)): float(x) for i, x in zip(idx[0, :, 0, 0], w[0, :, 0, 0])}
    z = 1 + 4 * math.exp(-2)
    assert got.pop((0, 0)) == pytest.approx(1 / z, rel=1e-6)
    assert set(got) == {(-10, 0), (10, 0), (0, -10), (0, 10)}
    assert all(v == pytest.approx(math.exp(-2) / z, rel=1e-6) for v in got.values())
    assert L[0, 0, 0, 0] == pytest.approx(53.585, abs=1e-3)  # CIE L* of sRGB 128


def test_soft_encoding_sums_to_one_and_picks_the_nearest_bins(rng):
    from colorist.recolor.reference import rgb_to_lab

    img = rng.integers(0, 256, (2, 13, 18, 3), dtype=np.uint8)
    enc = SoftEncoding(k=5, sigma=5.0, stride=4)
    L, idx, w = soft_encode_reference(img, BINS, enc)
    assert L.shape == (2, 1, 13, 18) and idx.shape == (2, 5, 4, 5)
    np.testing.assert_allclose(w.sum(1), 1, atol=1e-6)
    assert np.all(np.diff(w, axis=1) <= 1e-7)  # nearest first: non-increasing weights
    ab = rgb_to_lab(img)[:, ::4, ::4, 1:]  # the cells' first pixels
    d = np.linalg.norm(ab[:, :, :, None, :] - BINS[None, None, None].astype(float), axis=-1)
    ranked = np.sort(d, -1)
    got = np.take_along_axis(d, np.moveaxis(idx, 1, -1), -1)
    np.testing.assert_allclose(got, ranked[..., :5], atol=1e-9)  # the 5 smallest distances
    dense = dense_targets(idx, w, len(BINS))
    np.testing.assert_allclose(dense.sum(1), 1, atol=1e-6)
    assert np.array_equal(dense.argmax(1), d.argmin(-1))


def test_soft_encode_torch_api_numpy_backend(rng):
    img = rng.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    L, idx, w = soft_encode(torch.from_numpy(img), BINS, backend="numpy")
    ref = soft_encode_reference(img, BINS)
    assert idx.dtype == torch.int64 and np.array_equal(idx.numpy(), ref[1])
    with pytest.raises(ValueError, match="uint8"):
        soft_encode(torch.zeros(1, 8, 8, 3), BINS)
    with pytest.raises(ValueError, match="unknown encoder backend 'cuda-fast'"):
        soft_encode(torch.from_numpy(img), BINS, backend="cuda-fast")
    with pytest.raises(ValueError, match="k="):
        soft_encode(torch.from_numpy(img), BINS[:3], SoftEncoding(k=5))


def _gamut_corner_image() -> np.ndarray:
    """Every grey level, the 8 corners of the RGB cube and random colours, one row."""
    grey = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1)
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)],
                       np.uint8)
    edges = np.array([[v, 0, 0] for v in range(0, 256, 5)] + [[0, v, 255] for v in range(256)]
                     + [[255, v, 0] for v in range(256)], np.uint8)
    rand = np.random.default_rng(3).integers(0, 256, (4000, 3), dtype=np.uint8)
    return np.concatenate([grey, corners, edges, rand])[None]


@pytest.mark.parametrize("k, sigma, grid", [(5, 5.0, 10), (1, 5.0, 10), (8, 10.0, 10),
                                            (5, 5.0, 20)])
def test_fast_encoder_equals_the_reference(rng, k, sigma, grid):
    """Indices and weights bit for bit, L equal (float32 of the reference's float64 L), on
    random images at stride 4 and, at stride 1 (every pixel a cell), greys, cube corners and
    edges and random colours."""
    from colorist.colorize.encode import soft_encode_fast

    bins = gamut_bins(grid)
    for img, stride in ((rng.integers(0, 256, (3, 37, 50, 3), dtype=np.uint8), 4),
                        (_gamut_corner_image(), 1)):
        enc = SoftEncoding(k=k, sigma=sigma, stride=stride)
        ref, fast = soft_encode_reference(img, bins, enc), soft_encode_fast(img, bins, enc)
        assert [x.shape for x in ref] == [x.shape for x in fast]
        assert [x.dtype for x in ref] == [x.dtype for x in fast]
        assert np.array_equal(fast[1], ref[1])
        np.testing.assert_allclose(fast[2], ref[2], rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast[0], ref[0], rtol=0, atol=1e-5)


def test_fast_nearest_bins_on_boundaries_and_ties():
    """Points on the candidate table's cell edges, on bin centres, on Voronoi edges and
    corners between bins (exact ties, also at the k-th place: those rows take the
    reference's own routine), at and past the table's extent: the reference's bins."""
    from colorist.colorize.bins import nearest_bins
    from colorist.colorize.encode import TABLE_STEP, candidate_table, nearest_bins_fast

    for bins in (BINS, gamut_bins(20)):
        t = candidate_table(bins, 5)
        edges = t.lo + t.step * np.arange(t.n + 1)
        near = np.concatenate([edges, edges - 1e-9, edges + 1e-9, np.nextafter(edges, -np.inf),
                               np.arange(-115, 116, 5.0), np.arange(-115, 116, TABLE_STEP / 4),
                               [t.lo + t.n * t.step, -t.lo, 250.0, -300.0]])
        a, b = np.meshgrid(near, np.arange(-110, 111, 5.0), indexing="ij")
        ab = np.concatenate([np.stack([a.ravel(), b.ravel()], -1),
                             np.stack([b.ravel(), a.ravel()], -1)])
        for k in (1, 2, 4, 5, 9):
            got, ref = nearest_bins_fast(ab, bins, k), nearest_bins(ab, bins, k)
            assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])


def test_candidate_table_is_exact(rng):
    """Brute force over in-gamut ab points (the RGB cube's surface) and uniform ones: every
    bin within the k-th smallest distance (ties included) is among the point's cell's
    candidates."""
    from colorist.colorize.bins import _surface_ab
    from colorist.colorize.encode import candidate_table

    surface = _surface_ab()
    ab = np.concatenate([surface[rng.choice(len(surface), 60000, replace=False)],
                         rng.uniform(-109.99, 109.99, (40000, 2))])
    for bins, k in ((BINS, 5), (BINS, 1), (BINS, 10), (gamut_bins(20), 5)):
        t = candidate_table(bins, k)
        b = bins.astype(np.float64)
        d2 = ((ab[:, None] - b[None]) ** 2).sum(-1)
        kth = np.partition(d2, k - 1, axis=1)[:, k - 1 : k]
        cell = (np.floor((ab[:, 0] - t.lo) / t.step) * t.n
                + np.floor((ab[:, 1] - t.lo) / t.step)).astype(int)
        member = np.zeros((len(ab), len(b) + 1), bool)
        np.put_along_axis(member, t.cand[cell], True, 1)
        assert not np.any((d2 <= kth) & ~member[:, :-1])
        assert t.width < len(bins) // 4  # the point of it: few candidates a cell
    with pytest.raises(ValueError, match="k < Q"):
        candidate_table(BINS[:5], 5)


def test_fast_encoder_native_lab_and_backends(rng, monkeypatch):
    from colorist._native import cpu_extension_error
    from colorist.colorize.encode import default_backend, soft_encode_fast

    img = rng.integers(0, 256, (2, 16, 12, 3), dtype=np.uint8)
    ref = soft_encode_reference(img, BINS)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert default_backend("cpu") == "cpu"  # auto on a CPU tensor: the fast path
    got = soft_encode(torch.from_numpy(img), BINS)
    assert all(np.array_equal(g.numpy(), r) for g, r in zip(got, ref))
    if cpu_extension_error() is None:
        L, idx, w = soft_encode_fast(img, BINS, native=True, threads=1)
        np.testing.assert_allclose(L, ref[0], rtol=0, atol=1e-4)
        assert np.array_equal(idx, ref[1]) and np.array_equal(w, ref[2])


# ---- class rebalancing -------------------------------------------------------------------


def test_rebalance_weights_have_expectation_one(rng):
    counts = rng.integers(0, 1000, len(BINS))
    prior = smoothed_prior(counts, BINS, sigma=5.0)
    assert prior.sum() == pytest.approx(1) and np.all(prior > 0)
    for lam in (0.0, 0.5, 0.9):
        w = rebalance_weights(prior, lam)
        assert (prior * w).sum() == pytest.approx(1, rel=1e-12)
    np.testing.assert_allclose(rebalance_weights(prior, 1.0), 1.0)  # uniform mix: no effect
    w0 = rebalance_weights(prior, 0.0)  # pure inverse prior
    np.testing.assert_allclose(w0 * prior, (w0 * prior)[0])
    rare, common = np.argmin(prior), np.argmax(prior)
    assert rebalance_weights(prior)[rare] > rebalance_weights(prior)[common]


def test_prior_smoothing_hand_computed():
    """All mass on bin (0, 0): its 4 neighbours at distance 10 get e^-2 of its mass."""
    counts = np.zeros(len(BINS))
    centre = BINS.tolist().index([0, 0])
    counts[centre] = 7
    prior = smoothed_prior(counts, BINS, sigma=5.0)
    right = BINS.tolist().index([10, 0])
    assert prior[right] / prior[centre] == pytest.approx(math.exp(-2))
    with pytest.raises(ValueError, match="no target cells"):
        smoothed_prior(np.zeros(len(BINS)), BINS)


def test_rebalanced_cross_entropy_against_dense_formula():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, len(BINS), 3, 4, generator=g)
    idx = torch.randint(0, len(BINS), (2, 3, 3, 4), generator=g)
    idx[:, 1] = (idx[:, 0] + 1) % len(BINS)  # distinct bins within a cell
    idx[:, 2] = (idx[:, 0] + 2) % len(BINS)
    w = torch.softmax(torch.randn(2, 3, 3, 4, generator=g), 1).sort(1, descending=True)[0]
    v = torch.rand(len(BINS), generator=g) + 0.5
    z = dense_targets(idx, w, len(BINS))
    expected = -(z * torch.log_softmax(logits, 1)).sum(1) * v[z.argmax(1)]
    got = rebalanced_cross_entropy(logits, idx, w, v)
    assert got.item() == pytest.approx(expected.mean().item(), rel=1e-5)
    plain = -(z * torch.log_softmax(logits, 1)).sum(1).mean()
    assert rebalanced_cross_entropy(logits, idx, w).item() == pytest.approx(plain.item(), 1e-5)


# ---- decoding ----------------------------------------------------------------------------


def test_annealed_mean_limits():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, len(BINS), 3, 5, generator=g) * 3
    bins = torch.from_numpy(np.array(BINS))
    mode = bins[logits.argmax(1)].permute(0, 3, 1, 2)
    assert torch.equal(annealed_mean(logits, bins, 0.0), mode)
    torch.testing.assert_close(annealed_mean(logits, bins, 1e-3), mode, atol=1e-3, rtol=0)
    p = np.exp(logits.double().numpy())
    p /= p.sum(1, keepdims=True)
    mean = np.einsum("bqhw,qc->bchw", p, BINS.astype(np.float64))
    np.testing.assert_allclose(annealed_mean(logits, bins, 1.0).numpy(), mean, atol=1e-3)
    # between: less saturated than the mode on average, more than the mean
    chroma = [annealed_mean(logits, bins, t).norm(dim=1).mean().item() for t in (0, 0.38, 1)]
    assert chroma[0] >= chroma[1] >= chroma[2]
    with pytest.raises(ValueError, match="temperature"):
        annealed_mean(logits, bins, -1)


# ---- metrics -----------------------------------------------------------------------------


def test_auc_hand_computed():
    assert auc(np.zeros(10)) == 1.0
    assert auc(np.full(10, 200.0)) == 0.0
    assert auc(np.array([0.0, 200.0])) == pytest.approx(0.5)
    # all errors 75: the CDF steps from 0 to 1 at t = 75 (one trapezoid of area 0.5)
    assert auc(np.full(4, 75.0)) == pytest.approx(75.5 / 150)
    t, cdf = error_cdf(np.array([0.5, 2.0, 2.0, 9.0]))
    assert cdf[0] == 0 and cdf[1] == 0.25 and cdf[2] == 0.75 and cdf[9] == 1.0 and t[-1] == 150


def test_rebalanced_auc_weighs_classes_equally():
    classes = np.array([0, 0, 0, 1])
    w = class_balance_weights(classes, 2)
    np.testing.assert_allclose(w, [1 / 3, 1 / 3, 1 / 3, 1])
    err = np.array([0.0, 0.0, 0.0, 200.0])  # class 0 perfect, class 1 always wrong
    assert auc(err) == pytest.approx(0.75)
    assert auc(err, w) == pytest.approx(0.5)


# ---- network and weights -----------------------------------------------------------------


def test_eccv16_shapes_strides_dilations():
    m = build_model("eccv16-w8", BINS)
    assert m(torch.full((2, 1, 32, 48), 50.0)).shape == (2, len(BINS), 8, 12)
    strides = [blk.convs[-1].stride[0] for blk in m.blocks]
    assert strides == [2, 2, 2, 1, 1, 1, 1]  # x8 down-sampling
    assert [blk.convs[0].dilation[0] for blk in m.blocks] == [1, 1, 1, 1, 2, 2, 1]
    assert m.head.up.stride == (2, 2) and m.head.classify.kernel_size == (1, 1)
    full = build_model("eccv16", BINS)
    assert [blk.norm.num_features for blk in full.blocks] == [64, 128, 256, 512, 512, 512, 512]
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        build_model("vgg", BINS)


def _official_state(q=313, seed=0):
    """A random state dict with the official release's names and shapes (hand-listed)."""
    g = torch.Generator().manual_seed(seed)
    chans = [(1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256)]
    chans += [(256, 512)] + [(512, 512)] * 11
    per_block = [2, 2, 3, 3, 3, 3, 3]
    state, it = {}, iter(chans)
    for b, n in enumerate(per_block, start=1):
        for j in range(n):
            c_in, c_out = next(it)
            state[f"model{b}.{2 * j}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=g)
            state[f"model{b}.{2 * j}.bias"] = torch.randn(c_out, generator=g)
        for key in ("weight", "bias", "running_mean"):
            state[f"model{b}.{2 * n}.{key}"] = torch.randn(c_out, generator=g)
        state[f"model{b}.{2 * n}.running_var"] = torch.rand(c_out, generator=g) + 0.5
    state["model8.0.weight"] = torch.randn(512, 256, 4, 4, generator=g)  # ConvTranspose2d
    state["model8.0.bias"] = torch.randn(256, generator=g)
    for j in (2, 4):
        state[f"model8.{j}.weight"] = torch.randn(256, 256, 3, 3, generator=g)
        state[f"model8.{j}.bias"] = torch.randn(256, generator=g)
    state["model8.6.weight"] = torch.randn(q, 256, 1, 1, generator=g)
    state["model8.6.bias"] = torch.randn(q, generator=g)
    pts = torch.stack(torch.meshgrid(torch.arange(-90, 100, 10.0), torch.arange(-110, 100, 10.0),
                                     indexing="ij"), -1).reshape(-1, 2)[:q]
    state["model_out.weight"] = (pts.T / 110).reshape(2, q, 1, 1)
    return state, pts


def test_official_weights_name_mapping(tmp_path):
    state, pts = _official_state()
    path = tmp_path / "colorization_release_v2.pth"
    torch.save(state, path)
    model = load_official(path)
    assert model.num_bins == 313
    torch.testing.assert_close(model.bins, pts)  # bins read back from model_out (x 110)
    ours = model.state_dict()
    assert torch.equal(ours["blocks.0.convs.0.weight"], state["model1.0.weight"])
    assert torch.equal(ours["blocks.0.norm.running_var"], state["model1.4.running_var"])
    assert torch.equal(ours["blocks.2.convs.2.bias"], state["model3.4.bias"])
    assert torch.equal(ours["blocks.6.norm.weight"], state["model7.6.weight"])
    assert torch.equal(ours["head.up.weight"], state["model8.0.weight"])
    assert torch.equal(ours["head.convs.1.weight"], state["model8.4.weight"])
    assert torch.equal(ours["head.classify.bias"], state["model8.6.bias"])
    mapped, _ = official_to_ours(dict(state))
    assert len(mapped) == len(state) - 1  # every tensor but model_out maps to one of ours


def test_official_weights_errors_name_the_key(tmp_path):
    state, _ = _official_state()
    broken = dict(state)
    del broken["model5.2.bias"]
    with pytest.raises(WeightsError, match="missing 'model5.2.bias'"):
        official_to_ours(broken)
    with pytest.raises(WeightsError, match="unexpected keys \\['model9.0.weight'\\]"):
        official_to_ours({**state, "model9.0.weight": torch.zeros(1)})
    with pytest.raises(WeightsError, match="model_out"):
        official_to_ours({k: v for k, v in state.items() if k != "model_out.weight"})


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model("eccv16-w8", BINS).eval()
    save_model(model, tmp_path / "m.safetensors")
    back = load_model(tmp_path / "m.safetensors")
    x = torch.rand(1, 1, 16, 16) * 100
    assert back.width == 0.125 and torch.equal(back.bins, model.bins)
    torch.testing.assert_close(back.eval()(x), model(x))
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(WeightsError, match="bad.safetensors: not a safetensors file"):
        load_model(tmp_path / "bad.safetensors")
