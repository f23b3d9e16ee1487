import numpy as np
import pytest

import colorist
from colorist import BackendUnavailableError, RecolorInputError, UnknownColorError, recolor
from colorist._native import describe_auto_choice
from colorist.recolor import backends as backend_registry


@pytest.fixture
def img(rng):
    return rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)


@pytest.fixture
def mask():
    m = np.zeros((20, 30), bool)
    m[5:15, 5:20] = True
    return m


def test_single_image_shape_and_outside_untouched(img, mask):
    out = recolor(img, mask, "red", ["blue", "green"])
    assert out.shape == (2, 20, 30, 3) and out.dtype == np.uint8
    assert np.array_equal(out[:, ~mask], np.broadcast_to(img[~mask], out[:, ~mask].shape))


def test_auto_matches_reference(img, mask):
    """auto is the fastest backend here, and that backend agrees with the reference. Where
    auto *is* the reference there is nothing to compare (it would pass against itself)."""
    name = backend_registry.get_backend("auto").name
    if name == "reference":
        pytest.skip(f"nothing to compare: {describe_auto_choice()}")
    a = recolor(img, mask, "red", ["blue"], backend="auto")
    assert np.array_equal(a, recolor(img, mask, "red", ["blue"], backend=name))
    b = recolor(img, mask, "red", ["blue"], backend="reference")
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_batch_array_and_list(img, mask, rng):
    batch = np.stack([img, img[::-1].copy()])
    out = recolor(batch, np.stack([mask, mask]), ["red", "blue"], ["green"])
    assert out.shape == (2, 1, 20, 30, 3)
    small = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    outs = recolor([img, small], [mask, np.ones((3, 4))], "red", ["white", "black"])
    assert [o.shape for o in outs] == [(2, 20, 30, 3), (2, 3, 4, 3)]


def test_torch_tensors_in_and_out(img, mask):
    torch = pytest.importorskip("torch")
    out = recolor(torch.from_numpy(img), torch.from_numpy(mask), "red", ["blue"])
    assert isinstance(out, torch.Tensor) and out.shape == (1, 20, 30, 3)
    ref = recolor(img, mask, "red", ["blue"])
    assert np.array_equal(out.numpy(), ref)


@pytest.mark.parametrize("name", ["reference", "cpu"])
def test_non_contiguous_input(img, mask, name):
    """A strided view gives exactly what its contiguous copy gives, on each host backend."""
    if name not in colorist.available_backends():
        pytest.skip(backend_registry.BACKENDS[name].unavailable())
    view = np.asfortranarray(img)[:, ::-1]
    out = recolor(view, mask[:, ::-1], "red", ["blue"], backend=name)
    same = recolor(np.ascontiguousarray(view), np.ascontiguousarray(mask[:, ::-1]), "red",
                   ["blue"], backend=name)
    assert np.array_equal(out, same)
    assert not np.array_equal(out[0], view)  # it did recolour


def test_wrong_dtype_shape_and_mask_are_named(img, mask):
    with pytest.raises(RecolorInputError, match="image 0: dtype must be uint8"):
        recolor(img.astype(np.float32), mask, "red", ["blue"])
    with pytest.raises(RecolorInputError, match=r"image 0: shape must be \(H, W, 3\)"):
        recolor(img[..., :2], mask, "red", ["blue"])
    with pytest.raises(RecolorInputError, match="image 1: mask shape"):
        recolor([img, img], [mask, mask[:10]], "red", ["blue"])


def test_unknown_colour_and_backend(img, mask):
    with pytest.raises(UnknownColorError, match="'magenta'"):
        recolor(img, mask, "red", ["magenta"])
    with pytest.raises(ValueError, match="unknown backend 'opengl'"):
        recolor(img, mask, "red", ["blue"], backend="opengl")


def test_unavailable_backend_says_how_to_get_it(img, mask, monkeypatch):
    fake = backend_registry.Backend(
        "fake", 99, lambda *a: [], lambda: "backend 'fake' needs X: pip install x",
        lambda *a: None)
    monkeypatch.setitem(backend_registry.BACKENDS, "fake", fake)
    with pytest.raises(BackendUnavailableError, match="pip install x"):
        recolor(img, mask, "red", ["blue"], backend="fake")
    assert "fake" not in colorist.available_backends()
    assert colorist.available_backends()[-1] == "reference"


def test_nan_and_negative_mask_values_are_not_object(rng):
    """The docstring says > 0 marks the object: NaN and negative values do not."""
    img = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    mask = np.full((4, 5), np.nan)
    mask[0, 0], mask[1, 1] = -3.0, 0.5
    out = colorist.recolor(img, mask, "red", ["blue"], backend="reference", selective=False)[0]
    changed = (out != img).any(-1)
    changed[1, 1] = False  # the one object pixel
    assert not changed.any()


@pytest.mark.parametrize("source", [None, 5, ["red", None]])
def test_source_must_be_colour_names(rng, source):
    img = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    with pytest.raises(colorist.RecolorInputError, match="source must be a colour name"):
        colorist.recolor(img, np.ones((4, 5)), source, ["blue"], backend="reference")


@pytest.mark.parametrize("threads", [-1, 100000])
def test_thread_counts_are_checked_on_every_backend(rng, threads):
    img = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="threads"):
        colorist.recolor(img, np.ones((4, 5)), "red", ["blue"], backend="reference",
                         threads=threads)


def test_unknown_palette_threshold_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown fields \\['blak_v_max'\\]"):
        colorist.Palette.from_dict({"thresholds": {"blak_v_max": 3}})


def test_auto_says_when_it_falls_back_to_the_reference(monkeypatch):
    from colorist.recolor import backends

    monkeypatch.setattr(backends, "available_backends", lambda: ["reference"])
    backends._warn_slow_auto.cache_clear()
    with pytest.warns(RuntimeWarning, match="numpy reference"):
        assert backends.get_backend("auto").name == "reference"


# ---- prepare: the pre-pass once, any number of recolourings -------------------------------

def test_prepared_objects_recolour_as_recolor_does(demo_objects):
    _, image, mask, source = demo_objects[0]
    targets = [c for c in ("blue", "green", "pink") if c != source]
    prepared = colorist.prepare(image, mask, source, backend="cpu")
    assert len(prepared) == 1
    once = colorist.recolor(image, mask, source, targets, backend="cpu")
    np.testing.assert_array_equal(prepared.recolor(targets), once)
    # a second call, one target at a time: the same bytes, the pre-pass not redone
    for i, t in enumerate(targets):
        np.testing.assert_array_equal(prepared.recolor([t])[0], once[i])


def test_prepare_keeps_batches_and_torch_types():
    import torch

    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    masks = np.zeros((2, 9, 11), np.uint8)
    masks[:, 2:7, 3:9] = 1
    prepared = colorist.prepare(torch.from_numpy(imgs), torch.from_numpy(masks),
                                ["red", "blue"], backend="reference")
    out = prepared.recolor(["green"])
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 1, 9, 11, 3)
    ref = colorist.recolor(imgs, masks, ["red", "blue"], ["green"], backend="reference")
    np.testing.assert_array_equal(out.numpy(), ref)
    assert prepared.params([["green"], ["pink"]]).shape[:2] == (2, 1)


def test_prepare_rejects_an_unknown_source_before_the_pre_pass(monkeypatch):
    calls = []
    impl = backend_registry.get_backend("reference")
    monkeypatch.setattr(type(impl), "prepass", lambda *a, **k: calls.append(1))
    with pytest.raises(UnknownColorError, match="mauve"):
        colorist.prepare(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.uint8), "mauve",
                         backend="reference")
    assert calls == []
