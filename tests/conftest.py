import json
from pathlib import Path

import numpy as np
import pytest

from colorist.io import mask_from_coco, read_image
from colorist.recolor.__main__ import demo_jobs_path

COCO_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco-mini"


def load_demo_objects():
    """(id, image, mask, colour) of the demo objects bundled in the package (coco-mini)."""
    path = demo_jobs_path()
    out = []
    for line in path.read_text().splitlines():
        job = json.loads(line)
        image = read_image(path.parent / job["image"])
        out.append((job["id"], image, mask_from_coco(job["mask"], image.shape[:2]), job["source"]))
    return out


@pytest.fixture(scope="session")
def demo_objects():
    return load_demo_objects()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
