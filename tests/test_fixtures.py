"""The COCO subset shipped with the tests: complete, reproducible, never a reason to skip."""

import filecmp
import json
import re
import sys
from pathlib import Path

from .conftest import COCO_MINI

ROOT = Path(__file__).resolve().parents[1]
COLOR_WORDS = re.compile(r"\b(red|orange|yellow|green|cyan|blue|purple|pink|brown|white|gray"
                         r"|grey|black)\b", re.IGNORECASE)


def _json(name):
    return json.loads((COCO_MINI / "annotations" / name).read_text())


def test_the_fixture_ships_with_the_repository():
    assert COCO_MINI.is_relative_to(ROOT / "tests") and COCO_MINI.is_dir()
    captions, instances = _json("captions_train2017.json"), _json("instances_train2017.json")
    files = {i["file_name"] for i in instances["images"]}
    assert files == {p.name for p in (COCO_MINI / "images").iterdir()}
    assert {i["id"] for i in captions["images"]} == {i["id"] for i in instances["images"]}
    ids = {i["id"] for i in instances["images"]}
    assert all(a["image_id"] in ids for a in instances["annotations"] + captions["annotations"])
    assert len(instances["categories"]) == 80
    assert sum(p.stat().st_size for p in (COCO_MINI / "images").iterdir()) < 8_000_000
    readme = (COCO_MINI / "README.md").read_text()
    assert "CC BY 4.0" in readme and all(f in readme for f in files)


def test_every_image_with_a_colour_caption_is_in_it():
    """The quality tests and the miner need every object whose caption names its colour."""
    captions = _json("captions_train2017.json")
    named = {a["image_id"] for a in captions["annotations"] if COLOR_WORDS.search(a["caption"])}
    assert len(named) >= 40
    for image_id in (194322, 234748, 525891, 30752, 466547, 466137, 196393, 187334, 409194):
        assert image_id in named


def test_the_script_rebuilds_it_byte_for_byte(tmp_path):
    """From ../shared/data/coco-mini when present (so no colour image of it is missing
    here), else from the shipped copy (the subset of the subset is itself)."""
    sys.path.insert(0, str(ROOT))
    from scripts.make_test_fixtures import main

    assert main(["--out", str(tmp_path / "coco-mini")]) == 0
    cmp = filecmp.dircmp(tmp_path / "coco-mini", COCO_MINI)
    assert not (cmp.left_only or cmp.right_only or cmp.diff_files)
    for sub in ("images", "annotations"):
        names = [p.name for p in (COCO_MINI / sub).iterdir()]
        match, mismatch, errors = filecmp.cmpfiles(tmp_path / "coco-mini" / sub, COCO_MINI / sub,
                                                   names, shallow=False)
        assert not (mismatch or errors), (sub, mismatch, errors)


def test_no_test_reads_data_outside_the_repository():
    for path in (ROOT / "tests").glob("*.py"):
        if path.name == Path(__file__).name:
            continue
        text = path.read_text()
        assert "shared/data" not in text and '"shared"' not in text, path.name
        assert "coco-mini absent" not in text, path.name
