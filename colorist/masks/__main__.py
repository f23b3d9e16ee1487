"""``python -m colorist.masks``: export the mask models to ONNX, or predict masks with them.

    python -m colorist.masks export --sam facebook/sam-vit-huge \
        --dino IDEA-Research/grounding-dino-tiny --out models/
    python -m colorist.masks export --sam sam_vit_h_4b8939.pth --out models/  # official
    python -m colorist.masks export --clipseg CIDAS/clipseg-rd64-refined --out models/ --fp16
    python -m colorist.masks export --sam tiny --dino tiny --clipseg tiny --out models/
    python -m colorist.masks predict IMAGE car --models models/ -o mask.png

Models are a hub id, a ``save_pretrained`` folder, an official SAM ``.pth``, or a size of
random weights (``tiny``, ``vit-b``/``vit-l``/``vit-h``, ``swin-t``, ``rd64``) for tests and
benchmarks. After each export ONNX Runtime runs against PyTorch on a random input and the
largest absolute difference is printed. Needs the 'masks' extra: pip install 'colorist[masks]'.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from colorist.cli import HelpFormatter
from colorist.extras import run_with_extra

RANDOM = {"sam": ("tiny", "vit-b", "vit-l", "vit-h"), "dino": ("tiny", "swin-t"),
          "clipseg": ("tiny", "rd64")}


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--dino-size {text}: expected HxW, e.g. 800x1333") from None
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError(f"--dino-size {text}: at least 32x32")
    return h, w


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m colorist.masks", description=__doc__,
                                 formatter_class=HelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="SAM / GroundingDINO / CLIPSeg -> ONNX",
                       formatter_class=HelpFormatter)
    e.add_argument("--sam", help="hub id, folder, official .pth, or a random size")
    e.add_argument("--dino", help="GroundingDINO hub id or folder, or a random size")
    e.add_argument("--clipseg", help="CLIPSeg hub id or folder, or a random size")
    e.add_argument("--out", type=Path, required=True,
                   help="folder for the ONNX files, tokenizers and manifest")
    e.add_argument("--fp16", action="store_true", help="float16 weights (inputs stay float32)")
    e.add_argument("--dino-size", type=_size, default=(800, 1333),
                   help="GroundingDINO's fixed input HxW (images are letterboxed into it; "
                        "default: 800x1333)")
    e.add_argument("--clipseg-size", type=int, default=352,
                   help="CLIPSeg's square input size (its processor uses 352)")
    e.add_argument("--opset", type=int, default=17, help="ONNX opset version")
    e.add_argument("--no-verify", action="store_true", help="skip the ORT vs PyTorch check")
    p = sub.add_parser("predict", help="mask of one object in one image, as a PNG",
                       formatter_class=HelpFormatter)
    p.add_argument("image", type=Path, help="the image")
    p.add_argument("text", help="the object, e.g. 'car'")
    p.add_argument("--models", type=Path, required=True, help="folder written by export")
    p.add_argument("--source", choices=["grounded-sam", "clipseg"], default="grounded-sam",
                   help="which exported models make the mask")
    p.add_argument("--refine-color", help="keep the parts of the mask that have this colour")
    p.add_argument("-o", "--output", type=Path, required=True, help="the mask PNG to write")
    return ap


def _model(kind: str, spec: str, out: Path):
    from colorist.masks import configs, export

    if spec in RANDOM[kind]:
        build = {"sam": configs.build_sam, "dino": configs.build_dino,
                 "clipseg": configs.build_clipseg}[kind]
        return build(spec)
    if not (Path(spec).exists() or "/" in spec):
        raise FileNotFoundError(f"--{kind} {spec}: no such file or folder (and not a hub id "
                                f"or one of {', '.join(RANDOM[kind])})")
    return {"sam": export.load_sam, "dino": export.load_dino,
            "clipseg": export.load_clipseg}[kind](spec)


def _report(name: str, entry: dict) -> None:
    diff = entry.get("max_abs_diff")
    check = (f", ORT vs PyTorch max |diff| {diff:.3g} (outputs up to {entry['max_abs_ref']:.3g})"
             if diff is not None else "")
    if "matched_queries" in entry:  # detections compared whatever their order
        check += (f"; {entry['matched_queries']:.1%} of detections matched by box, max logit "
                  f"|diff| {entry['matched_max_abs_diff']:.3g} there")
    print(f"{name}: {entry['file']} {entry['bytes'] / 1e6:.1f} MB in "
          f"{entry['export_seconds']:.1f} s{check}")


def export_main(args) -> int:
    from colorist.masks.export import (
        ExportOptions,
        export_clipseg,
        export_dino,
        export_sam,
        update_manifest,
    )

    if not (args.sam or args.dino or args.clipseg):
        print("error: give at least one of --sam, --dino, --clipseg", file=sys.stderr)
        return 2
    opts = ExportOptions(opset=args.opset, fp16=args.fp16, verify=not args.no_verify,
                         dino_size=args.dino_size, clipseg_size=args.clipseg_size)
    entries = {}
    if args.sam:
        entries["sam"] = export_sam(_model("sam", args.sam, args.out), args.out, opts)
        _report("sam encoder", entries["sam"]["encoder"])
        _report("sam decoder", entries["sam"]["decoder"])
    if args.dino:
        entries["dino"] = export_dino(*_model("dino", args.dino, args.out), args.out, opts)
        _report("dino", entries["dino"])
    if args.clipseg:
        entries["clipseg"] = export_clipseg(*_model("clipseg", args.clipseg, args.out),
                                            args.out, opts)
        _report("clipseg", entries["clipseg"])
    update_manifest(args.out, **entries)
    print(f"wrote {args.out}")
    return 0


def predict_main(args) -> int:
    from colorist.io.images import read_image
    from colorist.io.masks import write_mask_png
    from colorist.masks.refine import refine_mask
    from colorist.masks.sources import build_mask_source

    image = read_image(args.image)
    result = build_mask_source(args.source, args.models).predict([image], [args.text])[0]
    if result.mask is None:
        print(f"error: {args.image}: {result.reason}: {result.detail}", file=sys.stderr)
        return 1
    mask = result.mask
    if args.refine_color:
        mask = refine_mask(image, mask, args.refine_color)
    write_mask_png(args.output, mask)
    print(f"{args.output}: {int(mask.sum())} of {mask.size} pixels")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return run_with_extra(f"masks {args.command}", "masks", lambda: _main(args))


def _main(args) -> int:
    from colorist.io.images import ImageReadError
    from colorist.masks.convert import CheckpointError
    from colorist.masks.onnx_runtime import MaskModelError
    from colorist.masks.refine import RefineError

    try:
        return export_main(args) if args.command == "export" else predict_main(args)
    except (MaskModelError, CheckpointError, RefineError, ImageReadError, FileNotFoundError,
            ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
