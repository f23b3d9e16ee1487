"""Dataset build throughput, local engine vs Ray (1 and 2 recolouring workers), the Ray
engine's overhead per object, and a scaling estimate for N GPU nodes.

    python bench/scale.py                     # coco-mini repeated 4x (32 objects)
    python bench/scale.py --repeat 8 --save   # also writes bench/results/scale-cpu.md

The input is coco-mini with every image, annotation and caption repeated under new ids
(the same image files), so the objects are coco-mini's, ``--repeat`` times. Each engine
builds into a fresh folder with the cpu backend; the Ray runs share one local Ray of
``--num-cpus`` CPUs started once (its start-up is timed apart). objects/s counts built
objects over the build's whole wall time (mining, planning, recolouring, writing).

The estimate is a model, not a measurement: per-object stage costs measured here (the
recolouring run's ``stage_seconds``) split into host work (decode, encode, check, write)
and kernel work (pre-pass + kernel); a GPU node replaces the kernel work by
``--gpu-ms-per-object`` and keeps the host work on its CPUs; the driver's serial work per
object (planning, metadata) bounds the whole cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.cli import HelpFormatter  # noqa: E402

COCO_DIRS = (ROOT.parent / "shared/data/coco-mini", ROOT / "tests/data/coco-mini")
COCO = next((d for d in COCO_DIRS if d.is_dir()), COCO_DIRS[-1])
HOST_STAGES = ("decode", "encode", "write", "results")  # the check apart: full images on
# host backends, sampled pixels on GPU ones
KERNEL_STAGES = ("prepass", "kernel")


def repeat_coco(dest: Path, repeat: int) -> tuple[Path, Path]:
    """coco-mini's captions and instances with every record repeated under new ids."""
    caps = json.loads((COCO / "annotations/captions_train2017.json").read_text())
    inst = json.loads((COCO / "annotations/instances_train2017.json").read_text())
    step = 10 ** (len(str(max(i["id"] for i in inst["images"]))) + 1)

    def shifted(rows, k, **fields):
        return [{**r, **{f: r[src] + k * step for f, src in fields.items()}} for r in rows]

    out_caps = {**caps, "images": [], "annotations": []}
    out_inst = {**inst, "images": [], "annotations": []}
    for k in range(repeat):
        images = shifted(inst["images"], k, id="id")
        out_caps["images"] += images
        out_inst["images"] += images
        out_caps["annotations"] += shifted(caps["annotations"], k, id="id", image_id="image_id")
        out_inst["annotations"] += shifted(inst["annotations"], k, id="id", image_id="image_id")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "captions.json").write_text(json.dumps(out_caps))
    (dest / "instances.json").write_text(json.dumps(out_inst))
    return dest / "captions.json", dest / "instances.json"


def build(src: tuple[Path, Path], out: Path, *flags: str) -> dict:
    """One build; its dataset_summary.json plus the recolouring run's summary.json."""
    from colorist.dataset.__main__ import main

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = main(["build", "--captions", str(src[0]), "--instances", str(src[1]), "--images",
                   str(COCO / "images"), "--out", str(out), "--backend", "cpu", "--quiet",
                   *flags])
    wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"build into {out} failed with exit status {rc}")
    summary = json.loads((out / "dataset_summary.json").read_text())
    run = json.loads((out / "summary.json").read_text())
    return {"objects": summary["objects"], "wall": wall, "stages": run["stage_seconds"]}


def driver_seconds(src: tuple[Path, Path], local: Path, tmp: Path) -> tuple[float, float]:
    """Seconds of mining + selection (one process) and of the Ray driver's serial work
    (objects.jsonl, planning the jobs, metadata.jsonl, rejects.jsonl) for this input."""
    from colorist.captions import load_spacy
    from colorist.dataset import schema
    from colorist.dataset.build import BuildConfig, mine_records, plan_jobs, write_selection
    from colorist.io import read_jsonl
    from colorist.sources import load_coco

    records, categories = load_coco(*src)
    cfg = BuildConfig(out=tmp, images=COCO / "images", progress=False)
    load_spacy()
    t0 = time.perf_counter()
    objects, rejects = mine_records(records, categories, cfg)
    t1 = time.perf_counter()
    write_selection(tmp, objects, rejects)
    plan_jobs(objects, cfg)
    rows = [read_jsonl(local / "images" / s / "metadata.jsonl") for s in schema.SPLITS]
    schema.write_metadata(tmp, schema.rows_by_split(rows))
    return t1 - t0, time.perf_counter() - t1


def per_object_ms(stages: dict, names, objects: int) -> float:
    return 1000 * sum(stages.get(s, 0.0) for s in names) / max(objects, 1)


def estimate(host_ms: float, mine_ms: float, driver_ms: float, args, nodes: int) -> dict:
    """Objects/s of ``nodes`` GPU nodes (a model from the measured costs: see the module
    docstring)."""
    gpu_rate = nodes * args.gpus_per_node * 1000 / args.gpu_ms_per_object
    host_rate = nodes * args.cpus_per_node * 1000 / (host_ms + mine_ms)
    driver_rate = 1000 / driver_ms
    return {"gpu_bound": gpu_rate, "host_bound": host_rate, "driver_bound": driver_rate,
            "objects_per_s": min(gpu_rate, host_rate, driver_rate)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--repeat", type=int, nargs="+", default=[2, 6],
                   help="copies of coco-mini (8 objects each); two sizes give the overhead "
                        "per extra object")
    p.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                   help="recolouring actor counts to measure on Ray")
    p.add_argument("--shard-size", type=int, default=8, help="objects per shard")
    p.add_argument("--gpu-ms-per-object", type=float, default=10.0,
                   help="estimate: pre-pass + kernel + sampled check ms per object on one GPU")
    p.add_argument("--cpus-per-node", type=int, default=32, help="estimate: CPUs per node")
    p.add_argument("--gpus-per-node", type=int, default=8, help="estimate: GPUs per node")
    p.add_argument("--save", action="store_true",
                   help="write bench/results/scale-cpu.md and .json (else only print)")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results",
                   help="results folder used with --save")
    return p


def measure(args, tmp: Path) -> dict:
    import ray

    from colorist.captions import load_spacy

    load_spacy()  # loaded once per process: not part of any build's time
    t0 = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False)
    ray_start = time.perf_counter() - t0
    sizes = []
    try:
        for repeat in args.repeat:
            sizes.append(measure_size(args, tmp / f"x{repeat}", repeat))
    finally:
        ray.shutdown()
    return {"ray_start_s": ray_start, "sizes": sizes}


def measure_size(args, tmp: Path, repeat: int) -> dict:
    """Local and Ray builds of coco-mini x ``repeat`` (Ray already started)."""
    src = repeat_coco(tmp / "src", repeat)
    rows = [{"engine": "local", "workers": "-", **build(src, tmp / "local")}]
    for w in args.workers:
        rows.append({"engine": "ray", "workers": w, **build(
            src, tmp / f"ray{w}", "--engine", "ray", "--ray-workers", str(w),
            "--shard-size", str(args.shard_size))})
    for r in rows:
        r["objects_per_s"] = r["objects"] / r["wall"]
        r["host_ms"] = per_object_ms(r["stages"], HOST_STAGES, r["objects"])
        r["check_ms"] = per_object_ms(r["stages"], ("check",), r["objects"])
        r["kernel_ms"] = per_object_ms(r["stages"], KERNEL_STAGES, r["objects"])
        r["overhead_ms"] = 1000 * (r["wall"] - rows[0]["wall"]) / r["objects"]
    mine_s, driver_s = driver_seconds(src, tmp / "local", tmp / "driver")
    objects = rows[0]["objects"]
    return {"repeat": repeat, "objects": objects, "rows": rows,
            "mine_ms": 1000 * mine_s / objects, "driver_ms": 1000 * driver_s / objects}


def report(m: dict, args) -> list[str]:
    machine = f"{platform.machine()}-{os.cpu_count()}cpu"
    md = [f"# Dataset build: local vs Ray on {machine}", "",
          f"coco-mini repeated, cpu backend, Ray of {args.num_cpus} CPUs (start-up "
          f"{m['ray_start_s']:.1f} s, not counted), shard size {args.shard_size}. Per-object "
          "stage costs are thread-seconds from the recolouring runs' stage_seconds.", "",
          "| objects | engine | workers | objects/s | wall s | overhead ms/object vs local | "
          "host ms/object | check ms/object | pre-pass+kernel ms/object |",
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in m["sizes"]:
        for r in size["rows"]:
            over = f"{r['overhead_ms']:.0f}" if r["engine"] == "ray" else "-"
            md.append(f"| {size['objects']} | {r['engine']} | {r['workers']} | "
                      f"{r['objects_per_s']:.2f} | {r['wall']:.1f} | {over} | "
                      f"{r['host_ms']:.0f} | {r['check_ms']:.0f} | {r['kernel_ms']:.0f} |")
    md += _marginal(m["sizes"])
    big = m["sizes"][-1]
    local = big["rows"][0]
    md += ["", f"Mining and selection: {big['mine_ms']:.1f} ms per built object (one process).",
           f"Ray driver's serial work (objects.jsonl, planning, metadata.jsonl): "
           f"{big['driver_ms']:.2f} ms per object.", "",
           f"## Estimate (a model, not a measurement) for GPU nodes of {args.gpus_per_node} "
           f"GPUs and {args.cpus_per_node} CPUs", "",
           f"GPU pre-pass + kernel + sampled check: {args.gpu_ms_per_object} ms per object "
           f"(assumed, not measured here); host work (decode, encode, write) "
           f"{local['host_ms']:.0f} ms per object and mining {big['mine_ms']:.0f} ms per object "
           "on a CPU core (measured above, local engine).", "",
           "| nodes | GPU-bound obj/s | host-bound obj/s | driver-bound obj/s | estimate obj/s |",
           "|---:|---:|---:|---:|---:|"]
    for n in (1, 2, 4, 8, 16):
        e = estimate(local["host_ms"], big["mine_ms"], big["driver_ms"], args, n)
        md.append(f"| {n} | {e['gpu_bound']:,.0f} | {e['host_bound']:,.0f} | "
                  f"{e['driver_bound']:,.0f} | {e['objects_per_s']:,.0f} |")
    return md


def _marginal(sizes: list[dict]) -> list[str]:
    """The Ray engine's overhead per extra object: the slope between the two sizes."""
    if len(sizes) < 2:
        return []
    a, b = sizes[0], sizes[-1]
    lines = [""]
    for ra, rb in zip(a["rows"][1:], b["rows"][1:]):
        over_a = ra["wall"] - a["rows"][0]["wall"]  # seconds over the local build
        over_b = rb["wall"] - b["rows"][0]["wall"]
        slope = (over_b - over_a) / (b["objects"] - a["objects"])
        lines.append(f"Ray, {ra['workers']} worker(s): overhead {1000 * slope:.0f} ms per extra "
                     f"object, fixed part {over_a - slope * a['objects']:.1f} s.")
    return lines


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        m = measure(args, Path(tmp))
    md = report(m, args)
    print("\n".join(md))
    if not args.save:
        print("not saved (pass --save to write bench/results/)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale-cpu.md").write_text("\n".join(md) + "\n")
    (args.out / "scale-cpu.json").write_text(json.dumps(m, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
