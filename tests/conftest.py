import json
import os
from pathlib import Path

import numpy as np
import pytest

from colorist.io import mask_from_coco, read_image
from colorist.recolor.__main__ import demo_jobs_path


def _cuda_present() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


# Without a GPU the Triton kernels run in Triton's CPU interpreter, which is chosen when a
# kernel is defined, so the variable must be set before colorist.kernels is imported (on first use).
if not _cuda_present():
    os.environ.setdefault("TRITON_INTERPRET", "1")


# The COCO subset shipped with the tests (scripts/make_test_fixtures.py makes it from the
# full coco-mini): a fresh clone runs every test, none skips for missing data.
COCO_MINI = Path(__file__).resolve().parent / "data" / "coco-mini"


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


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped (with the reason) on machines without a GPU."""
    if _cuda_present():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def captioned_objects():
    """(id, image, mask, colour) of every coco-mini object whose captions name its colour
    (mined with spaCy and selected as the dataset builder does)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.quality import captioned_objects as mine
    from bench.quality import coco_dir

    return mine(coco_dir(None))


def backend_or_skip(name):
    """The registered backend ``name``, or skip the test saying why it cannot run here."""
    from colorist.recolor.backends import BACKENDS

    why = BACKENDS[name].unavailable()
    if why is not None:
        pytest.skip(f"{name} unavailable here: {why[:80]}")
    return BACKENDS[name]
