import io

import cv2
import numpy as np
import pytest
from PIL import Image

from colorist.io import (
    ImageReadError,
    MaskError,
    mask_from_coco,
    read_image,
    read_mask_png,
    write_image,
)
from colorist.io.names import safe_name


def test_grayscale_rgba_palette_16bit(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    assert np.array_equal(read_image(tmp_path / "g.png"), np.repeat(gray[..., None], 3, 2))

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (0, 0, 255, 0)  # transparent: composited over white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 1].tolist() == [255, 255, 255]

    pal = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").tolist() == [[[10, 20, 30], [200, 100, 50]]]

    deep = np.full((2, 3, 3), 65535, np.uint16)
    deep[0, 0] = (257 * 10, 0, 257 * 200)  # BGR on disk
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    out = read_image(tmp_path / "d.png")
    assert out.dtype == np.uint8 and out[0, 0].tolist() == [200, 0, 10] and out[1, 1, 0] == 255


def test_exif_rotation_is_applied(tmp_path):
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, :10] = (255, 0, 0)  # left half red, landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(img).save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)  # shown upright: portrait
    assert out[2, 5, 0] > 200 and out[17, 5, 0] < 60  # red half now on top


def test_missing_and_corrupt_images_named(tmp_path):
    with pytest.raises(ImageReadError, match="nope.jpg: image file not found"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageReadError, match="bad.jpg: not a decodable image"):
        read_image(tmp_path / "bad.jpg")


def test_write_image_atomic_and_roundtrip(tmp_path, rng):
    img = rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)
    write_image(tmp_path / "x.png", img)
    assert np.array_equal(read_image(tmp_path / "x.png"), img)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temporary left over


def test_coco_polygon_rle_and_errors():
    poly = [[1, 1, 8, 1, 8, 5, 1, 5]]
    m = mask_from_coco(poly, (10, 12))
    assert m.dtype == np.uint8 and m[3, 4] == 1 and m[8, 10] == 0
    from pycocotools import mask as mu
    rle = mu.encode(np.asfortranarray(m))
    rle["counts"] = rle["counts"].decode()
    assert np.array_equal(mask_from_coco(rle, (10, 12)), m)
    counts = {"size": [2, 3], "counts": [1, 2, 3]}
    assert mask_from_coco(counts, (2, 3)).sum() == 2
    with pytest.raises(MaskError, match="out of bounds"):
        mask_from_coco([[1, 1, 80, 1, 80, 5]], (10, 12))
    with pytest.raises(MaskError, match="does not match"):
        mask_from_coco(rle, (11, 12))
    with pytest.raises(MaskError, match="at least 3 points"):
        mask_from_coco([[1, 2, 3, 4]], (10, 12))
    with pytest.raises(MaskError, match="counts sum"):
        mask_from_coco({"size": [2, 3], "counts": [1, 2]}, (2, 3))


def test_mask_png_size_checked(tmp_path):
    cv2.imwrite(str(tmp_path / "m.png"), np.full((4, 5), 255, np.uint8))
    assert read_mask_png(tmp_path / "m.png", (4, 5)).sum() == 20
    with pytest.raises(MaskError, match="m.png: mask is 5x4 .* image is 6x4"):
        read_mask_png(tmp_path / "m.png", (4, 6))


@pytest.mark.parametrize("text,expected", [
    ("../../etc/passwd", "etc_passwd"), ("red car", "red_car"), ("..", "item"),
    ("/abs/path", "abs_path"), ("café crème", "cafe_creme"), ("a\\b", "a_b"),
])
def test_safe_name(text, expected):
    assert safe_name(text) == expected


def test_decode_bytes_from_memory(rng):
    from colorist.io import decode_image
    buf = io.BytesIO()
    Image.fromarray(np.full((3, 3, 3), 7, np.uint8)).save(buf, "PNG")
    assert decode_image(buf.getvalue()).max() == 7


# ---- untrusted inputs (hardening) ---------------------------------------------------------

def test_path_inside_refuses_absolute_dotdot_nul_and_symlinks_out(tmp_path):
    from colorist.io.names import UnsafePathError, path_inside

    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    (tmp_path / "outside.jpg").write_bytes(b"x")
    (base / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    assert path_inside(base, "sub/../a.jpg") == (base / "a.jpg").resolve()
    assert path_inside(base, str(base / "sub" / "b.jpg")) == (base / "sub" / "b.jpg").resolve()
    for bad in ["/etc/passwd", str(tmp_path / "outside.jpg"), "../outside.jpg",
                "sub/../../outside.jpg", "a\x00b", "", "link.jpg", 5, None, ["a"]]:
        with pytest.raises(UnsafePathError, match="line 3: image") as info:
            path_inside(base, bad, "line 3: image")
        assert info.value.reason == "unsafe-path"


def _in_thread(fn, *args, timeout=20.0):
    """fn(*args) in a thread; fails (instead of hanging the suite) when it blocks."""
    import threading

    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn.__name__}{args} blocked for {timeout} s"
    return box


def test_fifo_device_and_folder_are_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    for path, reason in ((fifo, "image-not-regular-file"), ("/dev/zero", "image-not-regular-file"),
                         (tmp_path, "image-not-regular-file"),
                         (tmp_path / "none.jpg", "image-not-found")):
        box = _in_thread(read_image, path)
        assert isinstance(box.get("error"), ImageReadError), box
        assert box["error"].reason == reason and str(path) in str(box["error"])
    box = _in_thread(read_mask_png, fifo)
    assert isinstance(box.get("error"), MaskError)
    assert box["error"].reason == "mask-not-regular-file"


def test_pixel_and_byte_limits_refuse_before_decoding(tmp_path, monkeypatch):
    ok, png = cv2.imencode(".png", np.zeros((300, 400), np.uint8))
    (tmp_path / "big.png").write_bytes(png.tobytes())
    ok, jpg = cv2.imencode(".jpg", np.zeros((300, 400, 3), np.uint8))
    (tmp_path / "big.jpg").write_bytes(jpg.tobytes())
    assert read_image(tmp_path / "big.png", max_pixels=400 * 300).shape == (300, 400, 3)

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded an image over the pixel limit")

    monkeypatch.setattr(cv2, "imdecode", no_decode)
    for name in ("big.png", "big.jpg"):
        with pytest.raises(ImageReadError, match="400x300 pixels, over the limit") as info:
            read_image(tmp_path / name, max_pixels=400 * 300 - 1)
        assert info.value.reason == "image-too-large"
    with pytest.raises(MaskError, match="over the limit") as info:
        read_mask_png(tmp_path / "big.png", max_pixels=1000)
    assert info.value.reason == "mask-too-large"
    with pytest.raises(ImageReadError, match="over the limit of 100") as info:
        read_image(tmp_path / "big.jpg", max_bytes=100)
    assert info.value.reason == "image-too-large"


def test_huge_png_header_is_refused_at_the_default_limit(tmp_path):
    """A 20000x20000 PNG (a valid header, a few bytes) is refused from its header: no 1.2 GB
    allocation."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(
        b"\0" * 1000)) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(data)
    with pytest.raises(ImageReadError, match="20000x20000 pixels") as info:
        read_image(tmp_path / "bomb.png")
    assert info.value.reason == "image-too-large"


def test_mask_to_u8_counts_only_values_above_zero():
    from colorist.io import mask_to_u8

    m = np.array([[np.nan, -1.0, 0.0, 0.5], [np.inf, -np.inf, 2.0, -0.0]], np.float32)
    np.testing.assert_array_equal(mask_to_u8(m), [[0, 0, 0, 1], [1, 0, 1, 0]])
    assert mask_to_u8(m).dtype == np.uint8
    np.testing.assert_array_equal(mask_to_u8(np.array([[-3, 0, 4]], np.int16)), [[0, 0, 1]])
    np.testing.assert_array_equal(mask_to_u8(np.array([[True, False]])), [[1, 0]])
    with pytest.raises(MaskError, match="neither bool nor real"):
        mask_to_u8(np.array([["a"]]))
    torch = pytest.importorskip("torch")
    t = torch.tensor([[float("nan"), -1.0, 3.0]])
    assert mask_to_u8(t).tolist() == [[0, 0, 1]] and mask_to_u8(t).dtype == torch.uint8


def test_malformed_segmentations_are_typed_mask_errors():
    from pycocotools import mask as mu

    m = np.zeros((6, 5), np.uint8, order="F")
    m[1:4, 2:4] = 1
    rle = mu.encode(np.asfortranarray(m))
    good = {"size": [6, 5], "counts": rle["counts"].decode()}
    np.testing.assert_array_equal(mask_from_coco(good, (6, 5)), m)
    for bad in [{"size": "6x5", "counts": [30]}, {"size": [6, 5], "counts": "zzzz"},
                {"size": [6, 5], "counts": ""}, {"size": [6, 5], "counts": [-5, 35]},
                {"size": [6, 5], "counts": [True] * 30}, {"size": [6, 5], "counts": 7},
                [["a", "b", "c", "d", "e", "f"]], [[[1, 2], [3]]], [5], "polygon", 7]:
        with pytest.raises(MaskError) as info:
            mask_from_coco(bad, (6, 5))
        assert info.value.reason in {"mask-malformed", "mask-size-mismatch"}, bad


def test_atomic_writes_honour_the_umask(tmp_path):
    import os

    from colorist.io.atomic import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        os.umask(0o077)
        atomic_write_bytes(tmp_path / "b.bin", b"x")
        write_image(tmp_path / "c.png", np.zeros((2, 2, 3), np.uint8))
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "c.png").stat().st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_never_glued_to_the_next_record(tmp_path):
    from colorist.io.atomic import append_jsonl, read_jsonl

    path = tmp_path / "results.jsonl"
    append_jsonl(path, {"id": "a"})
    with open(path, "ab") as f:  # a crash in the middle of an append
        f.write(b'{"id": "b", "outp')
    append_jsonl(path, {"id": "c"})
    assert [r["id"] for r in read_jsonl(path)] == ["a", "c"]
    path.write_bytes(b'{"id": "x"}\n\xff\xfe not utf-8\n[1, 2]\n' + b"[" * 100000 + b"\n")
    assert read_jsonl(path) == [{"id": "x"}]  # bad bytes, non-objects, deep nesting skipped


def test_stale_temporaries_of_a_killed_run_are_removed_and_nothing_else(tmp_path):
    """A SIGKILL during an atomic write leaves ``.NAME.XXXXXXXX.tmp`` (or a hard-link
    publisher's ``.NAME.PID.link``); the next run removes those once stale, keeps a fresh
    one (a concurrent writer's) and every other file, dot-files included."""
    import os
    import tempfile
    import time

    from colorist.io.atomic import remove_stale_temporaries

    sub = tmp_path / "images" / "obj"
    sub.mkdir(parents=True)
    fd, stale = tempfile.mkstemp(prefix=".a.jpg.", suffix=".tmp", dir=sub)
    os.close(fd)
    link = sub / ".b.jpg.4242.link"
    link.write_bytes(b"x")
    fd, fresh = tempfile.mkstemp(prefix=".c.jpg.", suffix=".tmp", dir=tmp_path)
    os.close(fd)
    keep = [sub / "a.jpg", tmp_path / ".hidden", tmp_path / "notes.tmp",
            tmp_path / ".x.tmp", sub / ".b.jpg.link"]
    for path in keep:
        path.write_bytes(b"data")
    old = time.time() - 3600
    for path in (stale, link, *keep):
        os.utime(path, (old, old))
    assert remove_stale_temporaries(tmp_path) == 2
    assert not os.path.exists(stale) and not link.exists()
    assert os.path.exists(fresh)
    assert all(p.read_bytes() == b"data" for p in keep)


def test_a_bulk_run_sweeps_stale_temporaries_in_its_output(tmp_path):
    import os
    import time

    from colorist.recolor.batch import BatchConfig, _prepare_out

    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    stale = out / "images" / ".x_blue.jpg.ab12CD34.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 3600,) * 2)
    _prepare_out(BatchConfig(out=out))
    assert not stale.exists()
