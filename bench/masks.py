"""Mask models at real sizes (random weights): ONNX export time and file size, and images/s
of ONNX Runtime (CPU; CUDA where its provider exists) vs PyTorch eager vs torch.compile;
plus the colour-aware refinement on one core.

    python bench/masks.py              # SAM ViT-B encoder, GroundingDINO Swin-T, CLIPSeg
    python bench/masks.py --sam-size vit-h --only sam --no-timing   # ViT-H export + file size
    python bench/masks.py --refine-only            # refinement, 640x480, one core
    python bench/masks.py --size tiny              # smoke run with the tiny test models

Each timed row: median seconds per batch over --repeat runs after one warm-up, images/s.
Prints the table; ``--save`` also writes bench/results/masks-<device>.json and .md (merged
with earlier runs of other rows).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import median_ms  # noqa: E402
from colorist.cli import HelpFormatter  # noqa: E402
from colorist.io.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from colorist.masks import configs, export, manifest  # noqa: E402
from colorist.masks.onnx_runtime import open_session  # noqa: E402
from colorist.masks.preprocess import IMAGENET_MEAN, IMAGENET_STD, letterbox  # noqa: E402


def _device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0).replace(" ", "-")
    return f"{platform.machine()}-{os.cpu_count()}cpu"


def _inputs(name: str, model, batch: int, dino_hw, clipseg_size: int) -> tuple[list[str], tuple]:
    rng = np.random.default_rng(0)
    if name == "sam":
        s = model.config.vision_config.image_size
        return manifest.SAM_ENCODER_INPUTS, (torch.randn(batch, 3, s, s),)
    if name == "dino":
        dino, tok = model
        images = [rng.integers(0, 256, (*dino_hw, 3), dtype=np.uint8)] * batch
        pixels, valid, _ = letterbox(images, dino_hw, IMAGENET_MEAN, IMAGENET_STD)
        feed = manifest.dino_feed(tok, manifest.dino_special_ids(tok), pixels, valid,
                                ["car ."] * batch)
        return manifest.DINO_INPUTS, tuple(torch.from_numpy(feed[k]) for k in manifest.DINO_INPUTS)
    seg, tok = model
    s = clipseg_size
    enc = tok(["a red car"] * batch, return_tensors="pt")
    return manifest.CLIPSEG_INPUTS, (torch.randn(batch, 3, s, s), enc["input_ids"],
                                   enc["attention_mask"])


def _wrapper(name: str, model):
    if name == "sam":
        return export.SamEncoderForExport(model).eval()
    if name == "dino":
        return export.GroundingDinoForExport(model[0]).eval()
    return export.ClipSegForExport(model[0]).eval()


def bench_model(name: str, size: str, args, out: Path) -> list[dict]:
    build = {"sam": configs.build_sam, "dino": configs.build_dino,
             "clipseg": configs.build_clipseg}[name]
    model = build(size)
    opts = export.ExportOptions(verify=not args.no_verify, dino_size=args.dino_size,
                                clipseg_size=args.clipseg_size, fp16=args.fp16)
    size = size + ("-fp16" if args.fp16 else "")
    fn = {"sam": lambda: export.export_sam(model, out, opts),
          "dino": lambda: export.export_dino(*model, out, opts),
          "clipseg": lambda: export.export_clipseg(*model, out, opts)}[name]
    entry = fn()
    files = [entry["encoder"], entry["decoder"]] if name == "sam" else [entry]
    rows = [{"model": name, "size": size, "row": "export", "file": f["file"],
             "mb": round(f["bytes"] / 1e6, 1), "export_s": f["export_seconds"],
             "max_abs_diff": f.get("max_abs_diff"), "max_abs_ref": f.get("max_abs_ref"),
             "matched_queries": f.get("matched_queries"),
             "matched_max_abs_diff": f.get("matched_max_abs_diff")}
            for f in files]
    for r in rows:
        print(r, flush=True)
    if args.no_timing:
        return rows
    names, inputs = _inputs(name, model, args.batch, args.dino_size, args.clipseg_size)
    onnx_file = out / files[0]["file"]
    feed = {k: v.numpy() for k, v in zip(names, inputs)}
    import onnxruntime as ort

    providers = [p for p in ("CPUExecutionProvider", "CUDAExecutionProvider")
                 if p in ort.get_available_providers()]
    wrapper = _wrapper(name, model)
    configs_ = [("ort-" + p.replace("ExecutionProvider", "").lower(), p) for p in providers]
    configs_ += [("torch-eager", "cpu"), ("torch-compile", "cpu")]
    if torch.cuda.is_available():
        configs_ += [("torch-eager-cuda", "cuda"), ("torch-compile-cuda", "cuda")]
    for label, where in configs_:
        row = {"model": name, "size": size, "row": label, "batch": args.batch}
        try:
            if label.startswith("ort"):
                sess = open_session(onnx_file, names, [where])
                sec = median_ms(lambda s=sess: s.run(None, feed), args.repeat) / 1e3
            else:
                dev = torch.device(where)
                mod = wrapper.to(dev)
                xs = tuple(x.to(dev) for x in inputs)
                mod_run = torch.compile(mod) if "compile" in label else mod

                def run(m=mod_run, xs=xs, dev=dev):
                    with torch.no_grad():
                        m(*xs)
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                sec = median_ms(run, args.repeat) / 1e3
            row.update(seconds=round(sec, 4), images_per_s=round(args.batch / sec, 3))
        except Exception as e:  # a backend that cannot run this model is reported, not fatal
            row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        print(row, flush=True)
        rows.append(row)
    wrapper.to("cpu")
    return rows


def bench_pipeline(args, tmp: Path) -> list[dict]:
    """GroundedSam end to end at real sizes (SAM ViT-B + GroundingDINO Swin-T, ONNX Runtime
    CPU): session load time (the thesis paid it on every call) and images/s on 640x480
    frames, batch 1 and 2 (batch 4 at 800x1333 needs over 24 GB on the CPU provider), with
    the process's peak resident memory."""
    import resource

    from colorist.masks.sources import GroundedSam

    out = tmp / "pipeline"
    opts = export.ExportOptions(verify=False, dino_size=args.dino_size)
    export.update_manifest(out, sam=export.export_sam(configs.build_sam(args.sam_size), out, opts),
                           dino=export.export_dino(*configs.build_dino("swin-t"), out, opts))
    start = time.perf_counter()
    source = GroundedSam(out, box_threshold=0.0, text_threshold=0.0)
    load = time.perf_counter() - start
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(4)]
    rows = [{"model": "grounded-sam", "size": f"{args.sam_size}+swin-t", "row": "load sessions",
             "ms": round(load * 1e3, 1)}]
    for batch in (1, 2):
        source.batch_size = batch

        def run():
            dets = source.detect(images, ["car"] * len(images))
            source.segment(images, [d[0][0] if len(d[0]) else np.array([0, 0, 640, 480])
                                    for d in dets])
        sec = median_ms(run, 1) / 1e3
        rows.append({"model": "grounded-sam", "size": f"{args.sam_size}+swin-t",
                     "row": f"detect + segment, ort-cpu, batch {batch}", "batch": batch,
                     "seconds": round(sec / len(images), 4),
                     "images_per_s": round(len(images) / sec, 3),
                     "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                          / 2**20, 1)})
        print(rows[-1], flush=True)
    return rows


def bench_refine(repeat: int) -> list[dict]:
    import cv2
    import numba

    from colorist.masks.refine import refine_mask

    cv2.setNumThreads(1)
    numba.set_num_threads(1)
    img = np.zeros((480, 640, 3), np.uint8)
    img[:] = (30, 70, 210)
    cv2.circle(img, (320, 260), 150, (240, 130, 20), -1)
    cv2.rectangle(img, (270, 40), (370, 130), (40, 160, 60), -1)
    noise = np.random.default_rng(0).integers(-12, 13, img.shape)
    img = np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)
    rows = []
    for label, mask in (("object mask (31% of frame)", None), ("full-frame mask", 1)):
        m = np.zeros((480, 640), np.uint8)
        if mask is None:
            cv2.circle(m, (320, 260), 150, 1, -1)
            m[40:130, 270:370] = 1
        else:
            m[:] = 1
        sec = median_ms(lambda m=m: refine_mask(img, m, "orange"), repeat) / 1e3
        rows.append({"model": "refine", "size": "640x480", "row": label, "threads": 1,
                     "ms": round(sec * 1e3, 2)})
        print(rows[-1], flush=True)
    return rows


def write(rows: list[dict], device: str, save: bool = False,
          res: Path = ROOT / "bench" / "results") -> None:
    """Print the table of ``rows`` merged with the saved ones; write both with ``save``."""
    path = res / f"masks-{device}.json"
    old = json.loads(path.read_text())["rows"] if path.is_file() else []
    keys = {(r["model"], r["size"], r["row"], r.get("file")) for r in rows}
    rows = [r for r in old if (r["model"], r["size"], r["row"], r.get("file")) not in keys] + rows
    lines = [f"# Mask models on {device}", "",
             "| model | size | row | file / batch | MB | export s | ms | images/s | note |",
             "|---|---|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        note = r.get("error", "")
        if r.get("max_abs_diff") is not None:
            note = (f"ORT vs PyTorch max diff {r['max_abs_diff']:.2g} "
                    f"(outputs up to {r['max_abs_ref']:.2g})")
            if r.get("matched_queries") is not None:
                note += (f"; {r['matched_queries']:.1%} of detections matched by box, logit "
                         f"diff there {r['matched_max_abs_diff']:.2g}")
        if r.get("peak_rss_gb") is not None:
            note = f"peak resident memory {r['peak_rss_gb']} GB"
        ms = r.get("ms", round(r["seconds"] * 1e3, 1) if "seconds" in r else "")
        what = r.get("file", r.get("batch", ""))
        lines.append(f"| {r['model']} | {r['size']} | {r['row']} | {what}"
                     f" | {r.get('mb', '')} | {r.get('export_s', '')} | {ms} | "
                     f"{r.get('images_per_s', '')} | {note} |")
    print("\n".join(lines))
    if not save:
        print("not saved (pass --save to write bench/results/)")
        return
    atomic_write_json(path, {"device": device, "torch": torch.__version__, "rows": rows})
    atomic_write_text(res / f"masks-{device}.md", "\n".join(lines) + "\n")
    print(f"wrote {path}")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--size", choices=["real", "tiny"], default="real",
                    help="real model sizes, or the tiny test models (smoke run)")
    ap.add_argument("--sam-size", default="vit-b", choices=list(configs.SAM_SIZES),
                    help="SAM image encoder size")
    ap.add_argument("--only", nargs="*", choices=["sam", "dino", "clipseg"],
                    default=["sam", "dino", "clipseg"], help="models to benchmark")
    ap.add_argument("--dino-size", type=lambda s: tuple(int(x) for x in s.split("x")),
                    default=(800, 1333), help="GroundingDINO input HxW (default: 800x1333)")
    ap.add_argument("--clipseg-size", type=int, default=352, help="CLIPSeg square input size")
    ap.add_argument("--batch", type=int, default=1, help="images per timed call")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per row (median)")
    ap.add_argument("--no-timing", action="store_true", help="export + file size only")
    ap.add_argument("--no-verify", action="store_true", help="skip the ORT vs PyTorch check")
    ap.add_argument("--refine-only", action="store_true",
                    help="only the colour-aware refinement (640x480, one core)")
    ap.add_argument("--render-only", action="store_true",
                    help="print the table of the saved .json (with --save: rewrite the .md)")
    ap.add_argument("--pipeline", action="store_true",
                    help="also GroundedSam end to end (load time, images/s)")
    ap.add_argument("--fp16", action="store_true", help="export float16 weights")
    ap.add_argument("--save", action="store_true",
                    help="write bench/results/masks-<device>.json and .md (else only print)")
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.render_only:
        write([], _device_name(), args.save)
        return
    rows = bench_refine(max(args.repeat, 20))
    if not args.refine_only:
        sizes = {"sam": args.sam_size, "dino": "swin-t", "clipseg": "rd64"}
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.only:
                size = "tiny" if args.size == "tiny" else sizes[name]
                rows += bench_model(name, size, args, Path(tmp) / name)
            if args.pipeline:
                rows += bench_pipeline(args, Path(tmp))
    write(rows, _device_name(), args.save)


if __name__ == "__main__":
    main()
