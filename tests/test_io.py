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
