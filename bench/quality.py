"""Recolouring quality as people name colours: the v2 contract against the v1 rule.

    python bench/quality.py                 # table on stdout
    python bench/quality.py --save          # also bench/results/quality.{json,md} and
                                            # docs/quality-*.jpg contact sheets

Objects:

* **captioned**: every coco-mini object whose captions name its colour (mined with spaCy
  and selected as the dataset builder does: one instance, one colour), recoloured into
  every other palette colour. Judged by the XKCD namer (``colorist.naming``). These are
  the objects the target boxes were calibrated on.
* **held-out**: the other single-instance coco-mini objects (no caption colour; at least
  ``--min-area`` of the image), with the colour a *second* human-naming model (CSS/X11
  names, ``load_namer("css")``) gives the object as their source, judged by that second
  model. The boxes were never tuned on them.

Rules: ``v2`` (this contract: selective alpha, source box -> perceptual target box,
noise-robust hue; the cpu backend) and ``v1`` (the previous contract: the binary mask,
the palette's old target arcs and S/V maps, an unweighted hue-histogram arc).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.io import mask_from_coco, read_image  # noqa: E402
from colorist.naming import load_namer  # noqa: E402
from colorist.palette import DEFAULT_PALETTE, HueArc  # noqa: E402
from colorist.quality import judge_variants, summarize  # noqa: E402
from colorist.recolor import recolor  # noqa: E402
from colorist.recolor.plan import MODE_COPY, MODE_HSV, MODE_LAB, _row  # noqa: E402
from colorist.recolor.preview import contact_sheet  # noqa: E402
from colorist.recolor.reference import recolor_reference, rgb_to_lab  # noqa: E402

COCO_DIRS = (ROOT.parent / "shared/data/coco-mini", ROOT / "tests/data/coco-mini")
PALETTE = DEFAULT_PALETTE

# ---- the v1 rule, frozen (colorist 0.1: palette.py and plan.py before contract v2) -----

_V1_LIGHT, _V1_BROWN = (1.0, 0.0, 165 / 255, 90.0), (1.0, 0.0, 49 / 255, 50.0)
V1_TABLE = {  # name: (target arc, (s_mul, s_add, v_mul, v_add), swatch)
    "red": ((175, 4.5), (1, 0, 1, 0), (210, 30, 35)),
    "orange": ((12, 19), _V1_LIGHT, (240, 130, 20)),
    "yellow": ((26, 32), _V1_LIGHT, (240, 225, 40)),
    "green": ((47, 65), (1, 0, 1, 0), (40, 160, 60)),
    "cyan": ((87, 95), (1, 0, 1, 0), (30, 190, 200)),
    "blue": ((106, 120), (1, 0, 1, 0), (30, 70, 210)),
    "purple": ((134, 144), (1, 0, 1, 0), (120, 40, 180)),
    "pink": ((157, 166), (1, 0, 1, 0), (235, 100, 170)),
    "brown": ((11, 18), _V1_BROWN, (95, 55, 25)),
    "white": (None, (0.1, 0, 55 / 255, 200), (245, 245, 245)),
    "gray": (None, (0.1, 0, 90 / 255, 75), (128, 128, 128)),
    "black": (None, (0.5, 0, 40 / 255, 0), (20, 20, 20)),
}


def _v1_arc(image: np.ndarray, mask: np.ndarray, source: str) -> HueArc:
    color = PALETTE[source]
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[mask > 0]
    keep = (hsv[:, 1] >= 45) & (hsv[:, 2] >= 50)
    hist = np.bincount(hsv[keep, 0], minlength=180)
    if hist.sum() < 64:
        return color.hue
    w = max(1, int(round(color.hue.width)))
    ext = np.concatenate([[0], np.cumsum(np.concatenate([hist, hist[:w]]))])
    sums = ext[w : w + 180] - ext[:180]
    best = np.flatnonzero(sums == sums.max())
    offset = np.abs((best - color.hue.lo + 90) % 180 - 90)
    lo = int(best[np.argmin(offset)])
    return HueArc(float(lo), float(lo + w) % 180)


def v1_recolor(image: np.ndarray, mask: np.ndarray, source: str,
               targets: Sequence[str]) -> np.ndarray:
    """The v1 rule through the v2 reference (a binary alpha and v1's rows)."""
    src = PALETTE[source]
    rows = []
    for t in targets:
        arc, (sm, sa, vm, va), swatch = V1_TABLE[t]
        sv = {"s_mul": sm, "s_add": sa, "v_mul": vm, "v_add": va}
        if t == source:
            rows.append(_row(mode=MODE_COPY))
        elif arc is None:
            rows.append(_row(mode=MODE_HSV, **sv))
        elif src.chromatic:
            a = _v1_arc(image, mask, source)
            tgt = HueArc(*arc)
            rows.append(_row(mode=MODE_HSV, src_lo=a.lo, src_w=a.width, tgt_lo=tgt.lo,
                             tgt_w=tgt.width, **sv))
        else:
            src_l = rgb_to_lab(np.array([V1_TABLE[source][2]], np.uint8))[0, 0]
            lab = rgb_to_lab(np.array([swatch], np.uint8))[0]
            rows.append(_row(mode=MODE_LAB, l_mul=0.6, l_add=lab[0] - 0.6 * src_l,
                             a_tgt=lab[1], b_tgt=lab[2], ab_mix=1.0))
    return recolor_reference(image, (mask > 0).astype(np.uint8) * 255, np.stack(rows))


# ---- objects -------------------------------------------------------------------------


def coco_dir(given: Path | None) -> Path:
    for d in ([given] if given else COCO_DIRS):
        if d is not None and (d / "annotations/instances_train2017.json").is_file():
            return d
    raise SystemExit(f"no coco-mini found (tried {', '.join(map(str, COCO_DIRS))}); "
                     "pass --coco DIR")


def captioned_objects(root: Path) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """(id, image, mask, caption colour) of the objects the dataset builder would select."""
    from colorist.captions import mine_captions
    from colorist.dataset.select import COMPLEMENTARY_COLORS, DEFAULT_COLORS, select_objects
    from colorist.sources import load_coco

    records, categories = load_coco(root / "annotations/captions_train2017.json",
                                    root / "annotations/instances_train2017.json")[:2]
    flat = mine_captions([t for r in records for _, t in r.captions], categories,
                         progress=False)
    per_record, i = [], 0
    for r in records:
        per_record.append(flat[i : i + len(r.captions)])
        i += len(r.captions)
    objects, _ = select_objects(records, per_record, DEFAULT_COLORS, COMPLEMENTARY_COLORS)
    out = []
    for o in objects:
        image = read_image(root / "images" / o.file_name)
        mask = mask_from_coco(o.segmentation, image.shape[:2])
        out.append((f"{o.image_id}_{o.entity}", image, mask, o.color))
    return out


def held_out_objects(root: Path, exclude: set[str], min_area: float, namer, limit: int):
    """Single-instance objects not in ``exclude``; source colour = ``namer``'s verdict."""
    inst = json.loads((root / "annotations/instances_train2017.json").read_text())
    cats = {c["id"]: c["name"] for c in inst["categories"]}
    images = {i["id"]: i for i in inst["images"]}
    per_key: dict = {}
    for a in inst["annotations"]:
        per_key.setdefault((a["image_id"], a["category_id"]), []).append(a)
    out = []
    for (image_id, cat), anns in sorted(per_key.items()):
        name = f"{image_id}_{cats[cat].replace(' ', '-')}"
        info = images[image_id]
        if len(anns) != 1 or anns[0].get("iscrowd") or name in exclude:
            continue
        if anns[0]["area"] < min_area * info["height"] * info["width"]:
            continue
        image = read_image(root / "images" / info["file_name"])
        mask = mask_from_coco(anns[0]["segmentation"], image.shape[:2])
        color = namer.region_name(image, mask)
        if color in PALETTE:
            out.append((name, image, mask, color))
        if len(out) >= limit:
            break
    return out


# ---- running ---------------------------------------------------------------------------


def judge_all(objects, rule: str, namer, backend: str, sheets: list | None = None):
    qualities, failures, seconds = [], [], 0.0
    for name, image, mask, source in objects:
        targets = [t for t in PALETTE.names if t != source]
        t0 = time.perf_counter()
        if rule == "v2":
            outs = recolor(image, mask, source, targets, backend=backend)
        else:
            outs = v1_recolor(image, mask, source, targets)
        seconds += time.perf_counter() - t0
        qs = judge_variants(image, mask, source, dict(zip(targets, outs)), namer)
        qualities += qs
        failures += [(name, source, q.target, q.failure()) for q in qs if not q.good]
        if sheets is not None:
            labels = [f"{t}{'' if q.good else ' X'}" for t, q in zip(targets, qs)]
            sheets.append(_sheet(image, mask, outs, targets, labels, source))
    return qualities, failures, seconds


def _sheet(image, mask, outs, targets, labels, source) -> np.ndarray:
    """One object's row: the original (mask outlined) and its variants, cropped."""
    ys, xs = np.nonzero(mask)
    pad = 12
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, image.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, image.shape[1])
    crop = lambda a: np.ascontiguousarray(a[y0:y1, x0:x1])  # noqa: E731
    sheet = contact_sheet(crop(image), [crop(o) for o in outs], targets, source,
                          height=96, columns=len(targets) + 1, palette=PALETTE)
    for i, label in enumerate(labels):  # mark the variants the judge rejects
        if label.endswith(" X"):
            tile_w = sheet.shape[1] // (len(targets) + 1)
            x = (i + 1) * tile_w
            cv2.rectangle(sheet, (x + 1, 1), (x + tile_w - 2, sheet.shape[0] - 2),
                          (255, 0, 0), 2)
    return sheet


def _stack(sheets: list[np.ndarray]) -> np.ndarray:
    width = max(s.shape[1] for s in sheets)
    return np.concatenate([np.pad(s, ((0, 4), (0, width - s.shape[1]), (0, 0)),
                                  constant_values=255) for s in sheets])


def markdown(results: dict) -> str:
    lines = ["# Recolouring quality (people's colour names)", "",
             f"Command: `python bench/quality.py --save`; machine: {results['machine']}.", ""]
    for set_name, block in results["sets"].items():
        lines += [f"## {set_name}: {block['objects']} objects, judged by the "
                  f"{block['judge']} namer", "",
                  "| target | variants | v2 good | v1 good | v2 hit | v1 hit | "
                  "v2 noise (median) | v1 noise | v2 collateral | v1 collateral |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        new, old = block["v2"]["by_target"], block["v1"]["by_target"]
        for t in PALETTE.names:
            if t not in new:
                continue
            n, o = new[t], old[t]
            lines.append(f"| {t} | {n['variants']} | {n['good_rate']:.0%} | "
                         f"{o['good_rate']:.0%} | {n['hit']:.2f} | {o['hit']:.2f} | "
                         f"{n['chroma_noise']:.2f} | {o['chroma_noise']:.2f} | "
                         f"{n['collateral']:.1%} | {o['collateral']:.1%} |")
        n, o = block["v2"]["all"], block["v1"]["all"]
        lines += [f"| **all** | {n['variants']} | **{n['good_rate']:.1%}** "
                  f"({n['good']}) | {o['good_rate']:.1%} ({o['good']}) | {n['hit']:.2f} | "
                  f"{o['hit']:.2f} | {n['chroma_noise']:.2f} | {o['chroma_noise']:.2f} | "
                  f"{n['collateral']:.1%} | {o['collateral']:.1%} |", "",
                  "v2 failures:", ""]
        lines += [f"- {f}" for f in block["v2_failures"]] or ["- none"]
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--coco", type=Path, default=None, help="coco-mini folder (default: "
                   "../shared/data/coco-mini, else tests/data/coco-mini)")
    p.add_argument("--backend", default="cpu", help="backend of the v2 rule")
    p.add_argument("--held-out", type=int, default=25, help="held-out objects (0: none)")
    p.add_argument("--min-area", type=float, default=0.03,
                   help="held-out objects cover at least this share of their image")
    p.add_argument("--save", action="store_true",
                   help="write bench/results/quality.{json,md} and docs/quality-*.jpg")
    args = p.parse_args(argv)
    root = coco_dir(args.coco)
    xkcd, css = load_namer("xkcd"), load_namer("css")
    captioned = captioned_objects(root)
    sets = {"captioned": (captioned, xkcd, "xkcd")}
    if args.held_out:
        held = held_out_objects(root, {o[0] for o in captioned}, args.min_area, css,
                                args.held_out)
        sets["held-out"] = (held, css, "css")
    results = {"machine": f"{platform.machine()}, {platform.python_version()}",
               "backend": args.backend, "sets": {}}
    for set_name, (objects, namer, judge) in sets.items():
        block = {"objects": len(objects), "judge": judge}
        for rule in ("v2", "v1"):
            sheets: list = []
            qs, fails, secs = judge_all(objects, rule, namer, args.backend, sheets)
            block[rule] = summarize(qs)
            block[f"{rule}_seconds"] = round(secs, 3)
            if rule == "v2":
                block["v2_failures"] = [f"{n} ({s} -> {t}): {why}" for n, s, t, why in fails]
            if args.save:
                out = ROOT / "docs" / f"quality-{set_name}-{rule}.jpg"
                cv2.imwrite(str(out), cv2.cvtColor(_stack(sheets), cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 85])
        results["sets"][set_name] = block
    text = markdown(results)
    print(text)
    if args.save:
        (ROOT / "bench/results/quality.json").write_text(json.dumps(results, indent=2) + "\n")
        (ROOT / "bench/results/quality.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
