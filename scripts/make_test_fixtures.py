"""Rebuild tests/data/coco-mini/ (the COCO subset the tests and benchmarks use) from
coco-mini (run from the repository root).

    python scripts/make_test_fixtures.py [SOURCE] [--out tests/data/coco-mini]

SOURCE defaults to ../shared/data/coco-mini, else the shipped copy itself (the subset of a
subset is the same subset, so the script is reproducible without the shared folder).

Kept: every image with a caption that names a colour (each palette colour and alias, and the
other colour words the miner rejects by name, e.g. "silver"), and the images the tests name
or read by position; the images byte for byte, the annotation files restricted to them
(every category kept), and a README with the licence note.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.captions import _color_word_pattern  # noqa: E402
from colorist.palette import DEFAULT_PALETTE  # noqa: E402

OUT = ROOT / "tests" / "data" / "coco-mini"
SOURCES = (ROOT.parent / "shared" / "data" / "coco-mini", OUT)
FILES = ("captions_train2017.json", "instances_train2017.json")
MAX_BYTES = 8_000_000  # what the repository carries for it

COLOR_WORDS = re.compile(r"\b(red|orange|yellow|green|cyan|blue|purple|pink|brown|white|gray"
                         r"|grey|black)\b", re.IGNORECASE)
# tests/test_masks.py reads the first six images by file name; test_dataset.py names some
# images whose captions have colour words (rejections); both kinds are kept explicitly.
TEST_IMAGE_IDS = frozenset({790, 30752, 37666, 54718, 63217, 69468, 72258, 89232, 187334,
                            194322, 196393, 234748, 249346, 332078, 409194, 466137, 466547,
                            525891})

README = """# coco-mini (test fixture)

{n} MSCOCO 2017 *train* images (`images/`, unchanged) with their COCO annotation files
restricted to those images (`annotations/captions_train2017.json`: {captions} captions,
`annotations/instances_train2017.json`: {instances} instances, all {categories}
categories). They are every coco-mini image whose captions name a colour, plus the
images the tests read by name or position. Made by `python scripts/make_test_fixtures.py`
from `../shared/data/coco-mini`; do not edit by hand.

Licence: the MSCOCO annotations are CC BY 4.0 (cocodataset.org, "COCO Consortium").
The images belong to their Flickr authors, each under the licence named by its `license` id
(the `licenses` table of the JSON files; ids 1-3 are non-commercial):

| file | license id | licence |
|---|---:|---|
{rows}
"""


def _select(captions: dict) -> set[int]:
    miner = _color_word_pattern(DEFAULT_PALETTE)
    named = {a["image_id"] for a in captions["annotations"]
             if COLOR_WORDS.search(a["caption"]) or miner.search(a["caption"])}
    present = {i["id"] for i in captions["images"]}
    return (named | TEST_IMAGE_IDS) & present


def _restrict(data: dict, keep: set[int]) -> dict:
    out = {k: v for k, v in data.items() if k not in ("images", "annotations")}
    out["images"] = [i for i in data["images"] if i["id"] in keep]
    out["annotations"] = [a for a in data["annotations"] if a["image_id"] in keep]
    return out


def make(source: Path, out: Path) -> dict:
    """Write the fixture into ``out`` from the coco-mini folder ``source``; a summary."""
    data = {f: json.loads((source / "annotations" / f).read_text()) for f in FILES}
    keep = _select(data["captions_train2017.json"])
    restricted = {f: _restrict(d, keep) for f, d in data.items()}
    images = restricted["instances_train2017.json"]["images"]
    size = sum((source / "images" / i["file_name"]).stat().st_size for i in images)
    if size > MAX_BYTES:
        raise SystemExit(f"{len(images)} images are {size / 1e6:.1f} MB > {MAX_BYTES / 1e6} MB")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    (tmp / "annotations").mkdir()
    for image in images:
        shutil.copyfile(source / "images" / image["file_name"], tmp / "images" / image["file_name"])
    for name, d in restricted.items():
        (tmp / "annotations" / name).write_text(json.dumps(d, separators=(",", ":")) + "\n")
    names = {lic["id"]: lic["name"] for lic in restricted["instances_train2017.json"]["licenses"]}
    rows = "\n".join(f"| {i['file_name']} | {i['license']} | {names.get(i['license'], '?')} |"
                     for i in sorted(images, key=lambda i: i["file_name"]))
    inst = restricted["instances_train2017.json"]
    (tmp / "README.md").write_text(README.format(
        n=len(images), captions=len(restricted["captions_train2017.json"]["annotations"]),
        instances=len(inst["annotations"]), categories=len(inst["categories"]), rows=rows))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return {"images": len(images), "bytes": size}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", nargs="?", type=Path,
                   help="a coco-mini folder (default: ../shared/data/coco-mini, else the "
                        "shipped copy)")
    p.add_argument("--out", type=Path, default=OUT, help=f"output folder (default: {OUT})")
    args = p.parse_args(argv)
    source = args.source or next(d for d in SOURCES if (d / "annotations").is_dir())
    if source.resolve() == args.out.resolve():  # rebuild from the shipped copy itself
        copy = args.out.with_name(args.out.name + ".src")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        try:
            summary = make(copy, args.out)
        finally:
            shutil.rmtree(copy)
    else:
        summary = make(source, args.out)
    print(f"{args.out}: {summary['images']} images, {summary['bytes'] / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
