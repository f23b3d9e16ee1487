"""Regenerate colorist/data/demo/ from coco-mini (run from the repository root).

Picks objects whose captions name their colour and that are the only (or the largest)
instance of their category, copies the images and writes jobs.jsonl with the COCO
polygons. The choice is by hand: caption mining arrives with the dataset builder.
"""

import json
import shutil
import sys
from pathlib import Path

COCO = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/coco-mini")
OUT = Path("colorist/data/demo")

# (image id, category, colour named by its captions)
OBJECTS = [
    (194322, "fire hydrant", "yellow"),   # "A yellow fire hydrant sits around..."
    (234748, "car", "blue"),              # "...standing behind a blue car."
    (525891, "stop sign", "red"),         # "A red stop sign next to a large bush..."
    (30752, "dog", "yellow"),             # "...skiing with a yellow lab."
    (466547, "bus", "red"),               # "A red bus passes by an old church..."
    (196393, "cat", "white"),             # "A white cat feeding on some cereals..."
    (466137, "teddy bear", "brown"),      # "A brown teddy bear sitting by..."
]


def main() -> None:
    inst = json.loads((COCO / "annotations/instances_train2017.json").read_text())
    cats = {c["id"]: c["name"] for c in inst["categories"]}
    images = {i["id"]: i for i in inst["images"]}
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for image_id, category, color in OBJECTS:
        anns = [a for a in inst["annotations"]
                if a["image_id"] == image_id and cats[a["category_id"]] == category]
        ann = max(anns, key=lambda a: a["area"])
        name = images[image_id]["file_name"]
        shutil.copy(COCO / "images" / name, OUT / "images" / name)
        lines.append({
            "id": f"{image_id}_{category.replace(' ', '-')}", "image": f"images/{name}",
            "mask": ann["segmentation"], "source": color, "category": category,
            "coco_annotation_id": ann["id"],
        })
    (OUT / "jobs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    print(f"wrote {len(lines)} jobs to {OUT}")


if __name__ == "__main__":
    main()
