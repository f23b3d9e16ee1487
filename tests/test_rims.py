"""No rims: a recoloured object leaves no outline of its old colour at the mask edge."""

import json

import numpy as np

from colorist.dataset.synthetic import write_shapes
from colorist.io import mask_from_coco, read_image
from colorist.recolor import recolor


def test_synthetic_shapes_lie_exactly_inside_their_polygon_masks(tmp_path):
    """The shapes are painted through pycocotools' rasteriser, the one that makes their
    masks (cv2.fillPoly of rounded vertices left a 1-px rim on the right and bottom)."""
    path = write_shapes(tmp_path, n=12, size=48, seed=5)
    for rec in json.loads(path.read_text()):
        image = read_image(tmp_path / "images" / rec["file_name"]).astype(int)
        (polys,) = rec["entities"].values()
        mask = mask_from_coco(polys[0], image.shape[:2]) > 0
        background = image[0, 0]
        assert (image[~mask] == background).all(), rec["file_name"]
        target = "blue" if rec["captions"][0].split()[1] != "blue" else "red"
        out = recolor(image.astype(np.uint8), mask, rec["captions"][0].split()[1], [target])[0]
        painted = image[mask][0]
        assert not (out.astype(int) == painted).all(-1).any(), rec["file_name"]
