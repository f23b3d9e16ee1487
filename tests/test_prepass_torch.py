"""The torch pre-pass (colorist.recolor.prepass_torch) against the numpy/OpenCV one.

Each OpenCV op it re-implements, the demo objects (7 real COCO images), synthetic edge
cases, and the GPU backends' whole path (Triton in its CPU interpreter here; tests marked
``cuda`` run on a GPU and are skipped without one).

Measured on CPU tensors (x86-64, OpenCV 5.0, torch 2.13): the alphas of the demo objects,
selective and not, are bit-identical to the numpy pre-pass, the fitted arcs identical and
the source boxes within 1e-9. The bounds asserted (mean |diff| < 0.05 LSB, max <= 8 LSB)
leave room for float32 rounding ties elsewhere: OpenCV's SIMD width decides how its
Gaussian rounds the last columns of a row, and CUDA divides by a scalar as a multiply.
"""

import dataclasses

import cv2
import numpy as np
import pytest

import colorist
from colorist.palette import DEFAULT_PALETTE as P
from colorist.recolor import prepass as pp
from colorist.recolor import recolor_reference
from colorist.recolor.api import plan_objects
from colorist.recolor.backends import BACKENDS
from colorist.recolor.plan import SourceBox, default_box

from .conftest import backend_or_skip

torch = pytest.importorskip("torch")
pt = pytest.importorskip("colorist.recolor.prepass_torch")

ALPHA_MEAN, ALPHA_MAX = 0.05, 8  # LSB; measured here: 0 and 0


def assert_alpha_close(got, want: np.ndarray) -> None:
    got = got.cpu().numpy()
    assert got.dtype == np.uint8 and got.shape == want.shape
    diff = np.abs(got.astype(np.int16) - want)
    assert diff.mean() < ALPHA_MEAN and diff.max(initial=0) <= ALPHA_MAX, (
        diff.mean(), diff.max())


def assert_box_close(got: SourceBox, want: SourceBox) -> None:
    """Arcs identical; S, V within a level, lightness within 0.5, weight within 0.1%."""
    assert got.arc == want.arc
    tol = {"s": 1.0, "v": 1.0, "l_mean": 0.05, "lightness": 0.5,
           "weight": 1e-3 * max(want.weight, 1.0)}
    for field in dataclasses.fields(SourceBox):
        if field.name != "arc":
            np.testing.assert_allclose(getattr(got, field.name), getattr(want, field.name),
                                       rtol=0, atol=tol.get(field.name, 1e-6),
                                       err_msg=field.name)


def assert_same_as_numpy(image, mask, color, cfg=pp.DEFAULT_PREPASS, device="cpu"):
    want, want_box = pp.object_alpha(image, mask, P[color], P, cfg)
    got, box = pt.object_alpha_torch(torch.from_numpy(image).to(device),
                                     torch.from_numpy(mask).to(device), P[color], P, cfg)
    assert got.device.type == torch.device(device).type
    assert_alpha_close(got, want)
    assert_box_close(box, want_box)
    return got


def hsv_image(h, s, v, shape):
    return cv2.cvtColor(np.full((*shape, 3), (h, s, v), np.uint8), cv2.COLOR_HSV2RGB)


def two_part_object(rng):
    """A red car: noisy red body, blue windows, grey tyres, one white highlight speck."""
    img = hsv_image(2, 200, 180, (70, 100))
    img = np.clip(img.astype(int) + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)
    img[8:24, 15:85] = hsv_image(112, 150, 160, (16, 70))  # windows
    img[52:66, 10:30] = (70, 70, 72)  # tyres
    img[52:66, 70:90] = (70, 70, 72)
    img[36:38, 50:52] = 250  # a specular speck: the closing takes it back
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[4:68, 6:94] = 1
    return img, mask


# ---- the OpenCV ops ----------------------------------------------------------------------


def test_hsv_and_grey_are_opencv_exact_on_the_whole_rgb_cube():
    axis = np.arange(256, dtype=np.uint8)
    for r0 in range(0, 256, 64):
        cube = np.stack(np.meshgrid(axis[r0 : r0 + 64], axis, axis, indexing="ij"), -1)
        cube = cube.reshape(-1, 1, 3)
        px = torch.from_numpy(cube.reshape(-1, 3))
        hsv = torch.stack(pt.rgb_to_hsv_u8(px), -1).numpy()
        assert np.array_equal(hsv, cv2.cvtColor(cube, cv2.COLOR_RGB2HSV).reshape(-1, 3))
        grey = pt.rgb_to_grey_u8(px).numpy()
        assert np.array_equal(grey, cv2.cvtColor(cube, cv2.COLOR_RGB2GRAY).reshape(-1))


def test_lightness_is_the_reference_cielab_l(rng):
    from colorist.recolor.reference import rgb_to_lab

    px = rng.integers(0, 256, (5000, 3), dtype=np.uint8)
    px[:4] = [[0, 0, 0], [255, 255, 255], [1, 1, 1], [3, 2, 1]]  # the linear toe included
    got = pt.lightness(torch.from_numpy(px)).numpy()
    np.testing.assert_allclose(got, rgb_to_lab(px)[:, 0], rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (17, 33), (64, 48)])
def test_filters_match_opencv(rng, shape):
    x = (rng.random(shape) ** 3).astype(np.float32)
    t = torch.from_numpy(x)
    for k, border, delta in ((15, cv2.BORDER_REFLECT_101, pt.REFLECT_101),
                             (9, cv2.BORDER_REFLECT, pt.REFLECT)):
        want = cv2.boxFilter(x, -1, (k, k), borderType=border)
        np.testing.assert_allclose(pt.box_filter(t, k, delta).numpy(), want, rtol=0, atol=1e-6)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    assert np.array_equal(pt.dilate(t, 5).numpy(), cv2.dilate(x, disc))
    assert np.array_equal(pt.erode(t, 5).numpy(), cv2.erode(x, disc))
    closed = pt.erode(pt.dilate(t, 5), 5).numpy()
    assert np.array_equal(closed, cv2.morphologyEx(x, cv2.MORPH_CLOSE, disc))
    v = (x * 255).astype(np.float32)
    np.testing.assert_allclose(pt.gaussian_blur(torch.from_numpy(v), 2.0).numpy(),
                               cv2.GaussianBlur(v, (0, 0), 2.0), rtol=0, atol=1e-3)
    guide = rng.random(shape).astype(np.float32)
    np.testing.assert_allclose(pt.guided_filter(torch.from_numpy(guide), t, 4, 1e-2).numpy(),
                               pp.guided_filter(guide, x, 4, 1e-2), rtol=0, atol=1e-5)


@pytest.mark.parametrize("feather_px", [2.0, 1.0, 3.5])
def test_edge_feather_is_opencvs_chamfer_band(rng, feather_px):
    mask = (rng.random((40, 50)) < 0.85).astype(np.uint8)
    mask[10:30, 10:40] = 1  # a deep interior, too
    got = pt.edge_feather(torch.from_numpy(mask), feather_px).numpy()
    want = pp.edge_feather(mask, feather_px)
    if feather_px <= 2.0:  # distances 0.955, 1.3693, 1.91: exact
        assert np.array_equal(got, want)
    else:  # mixed paths: float32 sums in another order
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert got[0].max() < 1.0 and got[20, 25] == 1.0  # the image border is an edge


def test_percentile_and_median_are_numpys(rng):
    for n in (16, 17, 1000):
        x = (rng.random(n) * 255).astype(np.float32)
        assert pt._percentile(torch.from_numpy(x), 90) == float(np.percentile(x, 90))
        ints = rng.integers(0, 256, n)
        assert pt._hist_median(np.bincount(ints, minlength=256)) == float(np.median(ints))


# ---- objects -----------------------------------------------------------------------------


@pytest.mark.parametrize("selective", [True, False])
def test_demo_objects_match_the_numpy_prepass(demo_objects, selective):
    cfg = pp.PrepassConfig(selective=selective)
    for _, image, mask, color in demo_objects:
        alpha = assert_same_as_numpy(image, mask, color, cfg)
        assert not alpha.numpy()[mask == 0].any()


def test_two_part_object_keeps_its_other_parts(rng):
    img, mask = two_part_object(rng)
    alpha = assert_same_as_numpy(img, mask, "red").numpy()
    assert np.median(alpha[30:48, 20:80]) == 255  # body (the speck closed over)
    assert alpha[11:21, 20:80].mean() < 20 and alpha[55:63, 13:27].mean() < 20


@pytest.mark.parametrize("color", ["red", "white", "gray", "black"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 1), (17, 33)])
@pytest.mark.parametrize("kind", ["empty", "full"])
def test_odd_sizes_empty_and_full_masks(rng, color, shape, kind):
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    img[: shape[0] // 2] = {"red": (200, 20, 30), "white": (235, 235, 230),
                            "gray": (120, 120, 125), "black": (20, 20, 22)}[color]
    mask = np.full(shape, kind == "full", np.uint8)
    alpha = assert_same_as_numpy(img, mask, color)
    if kind == "empty":
        box = pt.object_alpha_torch(torch.from_numpy(img), torch.from_numpy(mask), P[color],
                                    P)[1]
        assert not alpha.any() and box == default_box(P[color])


def test_inputs_of_any_layout_and_dtype(rng):
    """Strided tensors, bool masks and numpy arrays give the same alpha."""
    img, mask = two_part_object(rng)
    want, _ = pp.object_alpha(img, mask, P["red"], P)
    wide = np.zeros((70, 200, 3), np.uint8)
    wide[:, ::2] = img
    strided = torch.from_numpy(wide)[:, ::2]
    assert not strided.is_contiguous()
    for image, m in ((strided, torch.from_numpy(mask > 0)), (img, mask)):
        got, _ = pt.object_alpha_torch(image, m, P["red"], P)
        assert_alpha_close(got, want)


def test_batch_alphas_share_one_buffer(demo_objects):
    images = [np.ascontiguousarray(im[::7, ::5]) for _, im, _, _ in demo_objects[:3]]
    masks = [np.ascontiguousarray(m[::7, ::5]) for _, _, m, _ in demo_objects[:3]]
    sources = [c for _, _, _, c in demo_objects[:3]]
    alphas, boxes = pt.prepass_torch(images, masks, sources, P, device="cpu")
    want_alphas, want_boxes = pp.prepass(images, masks, sources, P)
    ptr = alphas[0].data_ptr()
    for a, b, wa, wb in zip(alphas, boxes, want_alphas, want_boxes):
        assert a.data_ptr() == ptr and a.is_contiguous()  # back to back
        ptr += a.numel()
        assert_alpha_close(a, wa)
        assert_box_close(b, wb)


# ---- the backends ------------------------------------------------------------------------


def test_host_backends_keep_the_numpy_prepass(rng):
    img, mask = two_part_object(rng)
    for name in ("reference", "cpu"):
        assert BACKENDS[name].prepass is pp.prepass
    alphas, _ = plan_objects(BACKENDS["reference"], [img], [mask], "red", ["blue"], P)
    assert isinstance(alphas[0], np.ndarray)
    assert BACKENDS["triton"].prepass is not pp.prepass
    assert BACKENDS["cuda"].prepass is not pp.prepass


@pytest.mark.parametrize("fit_source", [True, False])
def test_triton_plans_with_device_alphas(rng, fit_source):
    impl = backend_or_skip("triton")
    img, mask = two_part_object(rng)
    alphas, params = plan_objects(impl, [torch.from_numpy(img)], [torch.from_numpy(mask)],
                                  "red", ["blue", "white"], P, fit_source=fit_source)
    ref_alphas, ref_params = plan_objects(BACKENDS["reference"], [img], [mask], "red",
                                          ["blue", "white"], P, fit_source=fit_source)
    assert isinstance(alphas[0], torch.Tensor) and alphas[0].device.type == impl.device()
    assert_alpha_close(alphas[0], ref_alphas[0])
    np.testing.assert_allclose(params, ref_params, rtol=1e-6, atol=1e-4)


def small_objects(demo_objects, rng):
    out = [(im[::10, ::10].copy(), m[::10, ::10].copy(), c) for _, im, m, c in demo_objects[:4]]
    img, mask = two_part_object(rng)
    return [*out, (img[::2, ::2].copy(), mask[::2, ::2].copy(), "red")]


def check_whole_path(name, objects, device):
    """``colorist.recolor`` on backend ``name``: its kernel within 1 LSB of the reference
    kernel run with the torch alphas; the whole path within 2 LSB of the reference backend
    (numpy pre-pass), and bit-identical outside the mask."""
    impl = backend_or_skip(name)
    for img, mask, color in objects:
        targets = [t for t in ("blue", "white", "yellow") if t != color]
        timg, tmask = torch.from_numpy(img).to(device), torch.from_numpy(mask).to(device)
        out = colorist.recolor(timg, tmask, color, targets, backend=name)
        assert out.device.type == torch.device(device).type
        out = out.cpu().numpy().astype(np.int16)
        (alpha,), params = plan_objects(impl, [timg], [tmask], color, targets, P)
        assert alpha.device.type == torch.device(device).type
        alpha = alpha.cpu().numpy()
        kernel_ref = recolor_reference(img, alpha, params[0])
        assert np.abs(out - kernel_ref).max() <= 1
        whole_ref = colorist.recolor(img, mask, color, targets, backend="reference")
        assert np.array_equal(out[:, mask == 0], whole_ref[:, mask == 0])
        assert np.abs(out - whole_ref).max() <= 2  # measured here: <= 1


def test_triton_whole_path_against_the_reference(demo_objects, rng):
    if backend_or_skip("triton").device() != "cpu":
        pytest.skip("the interpreter variant; the GPU one is marked cuda")
    check_whole_path("triton", small_objects(demo_objects, rng), "cpu")


# ---- the benchmark -----------------------------------------------------------------------


def test_bench_prints_the_table_and_writes_only_with_save(tmp_path, capsys):
    from bench import prepass as bench

    args = ["--objects", "1", "--repeat", "1", "--out", str(tmp_path / "res")]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "| torch-cpu |" in out and "not saved" in out and not (tmp_path / "res").exists()
    assert bench.main([*args, "--save"]) == 0
    assert len(list((tmp_path / "res").glob("prepass-*.md"))) == 1


# ---- on a GPU ----------------------------------------------------------------------------


@pytest.mark.cuda
def test_demo_objects_on_cuda_match_the_numpy_prepass(demo_objects):
    for _, image, mask, color in demo_objects:
        assert_same_as_numpy(image, mask, color, device="cuda")


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["triton", "cuda"])
def test_gpu_whole_path_stays_on_the_device(demo_objects, rng, name):
    check_whole_path(name, small_objects(demo_objects, rng), "cuda")

