"""Contact-sheet labels and dataset-preview captions are never cut, even on narrow images."""

import cv2
import numpy as np
import pytest

from colorist.dataset import preview as dataset_preview
from colorist.palette import DEFAULT_PALETTE
from colorist.recolor import preview

LABELS = ["original: purple", "original: yellow", "purple", "orange", "gray", "red"]


def _ink_columns(region: np.ndarray) -> np.ndarray:
    """Columns of ``region`` (uint8 RGB on white) that hold any dark pixel."""
    return np.flatnonzero((region.min(axis=2) < 160).any(axis=0))


@pytest.mark.parametrize("width", [1, 8, 20, 60, 160])
@pytest.mark.parametrize("text", LABELS)
def test_label_text_fits_the_tile(width, text):
    tile = np.full((40, width, 3), 90, np.uint8)
    out = preview._label(tile, text, (255, 0, 0))
    bar = out[-24:]
    ink = _ink_columns(bar[:, preview.TEXT_X:]) + preview.TEXT_X
    assert ink.size and ink.max() < out.shape[1] - 2  # white after the last glyph
    smallest = cv2.getTextSize(text, preview.FONT, preview.LABEL_SCALES[-1], 1)[0][0]
    assert out.shape[1] >= preview.TEXT_X + smallest
    assert np.array_equal(out[:40, :width], tile)  # the image itself is unchanged


def test_contact_sheet_of_a_20_px_wide_image_shows_whole_labels():
    image = np.full((100, 20, 3), 200, np.uint8)
    names = [c for c in DEFAULT_PALETTE.names if c != "purple"]
    sheet = preview.contact_sheet(image, [image] * len(names), names, "purple", columns=4)
    tile_w = sheet.shape[1] // 4
    needed = max(preview.label_layout(t, 32)[1] for t in ["original: purple", *names])
    assert tile_w >= needed


def test_wrap_to_width_keeps_every_character_and_fits():
    caption = ("A remarkably long caption about an extraordinarily colourful double-decker "
               "bus with a supercalifragilisticexpialidociouslylongword parked by the kerb")
    lines = dataset_preview.wrap_to_width(caption, dataset_preview.CELL - 4)
    assert "".join(lines).replace(" ", "") == caption.replace(" ", "")
    assert all(dataset_preview._width(line) <= dataset_preview.CELL - 4 for line in lines)


def test_dataset_preview_cell_shows_the_whole_caption_on_a_narrow_image():
    caption = " ".join(["a tall red lamp post beside the road"] * 4)  # > 3 old lines
    cell = dataset_preview._cell(np.full((400, 20, 3), 120, np.uint8), caption)
    text = cell[dataset_preview.CELL:]
    assert _ink_columns(text).max() < cell.shape[1] - 1
    rows = np.flatnonzero(text.min(axis=(1, 2)) < 160)
    assert rows.max() < text.shape[0] - 2  # nothing cut at the bottom
    n_lines = len(dataset_preview.wrap_to_width(caption, dataset_preview.CELL - 4))
    assert n_lines > 3
