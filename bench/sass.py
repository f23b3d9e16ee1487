"""Static SASS statistics of the recolouring kernels: registers, spills, instructions.

    python bench/sass.py                    # kernels/recolor.cu of the working tree, sm_90
    python bench/sass.py --rev c5c1983      # ... and the same file at a git revision, side by side
    python bench/sass.py --triton           # also the Triton kernel, every autotune config
    python bench/sass.py --save             # also write bench/results/sass-<arch>.md

No GPU is needed: nvcc compiles the kernel to a cubin for ``--arch`` (``-Xptxas -v`` gives
registers and spill bytes per entry), and ``cuobjdump -sass`` (from the CUDA toolkit, or the
copy that ships inside Triton's wheel) disassembles it.

Method. Markers in the source (``asm volatile`` comments) do not survive ptxas, so regions
are found from the control flow instead:

* an entry's *total* is every instruction of the function except the ``NOP`` padding and
  the final ``BRA`` to itself;
* every backward branch (a ``BRA`` whose target is at or before itself) closes a loop; the
  loop's *body* is the instructions from the target to the branch, inclusive. The variant
  loop (``for j < k``) is the largest loop of an entry: its body is what each variant costs
  a thread, for ``kPixelsPerThread`` pixels, with every per-pixel ``if (alpha)`` taken;
* the *prologue* is what comes before the variant loop: meta loads, the vector loads, the
  early copy path and the HSV of each pixel (once per pixel for all variants).

The Triton kernel (``--triton``) is compiled the same way without a GPU:
``triton.compile(ASTSource(...), target=GPUTarget("cuda", <arch>, 32))`` for each autotune
config, with and without HAS_LAB; its PTX gives the width of every global load and store
(``ld.global.b8`` is one byte), its cubin the registers and the K loop (the largest loop).
Its pixels a thread are ``BLOCK / (32 * num_warps)``.

Per-pixel figures divide by ``kPixelsPerThread`` (read from the source). These are static
counts, an upper bound of the path one pixel takes: the body of an entry that has both an
HSV and a CIELAB branch holds both, and a thread runs one of them per variant. Instruction
classes separate what runs at full rate (FP32, integer) from what does not: conversions
(``I2F``, ``F2I``, ``FRND``: 16 a clock per SM on sm_90 against 128 FP32) and ``MUFU``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorist.cli import HelpFormatter  # noqa: E402

KERNEL = Path("kernels/recolor.cu")
HEADERS = [Path("csrc/include/colorist/pixel_math.h"),
           Path("csrc/include/colorist/param_layout.h")]

CLASSES = [  # first match wins
    ("memory", r"^(LDG|STG|LD|ST|LDS|STS|LDC|ULDC|LDL|STL|ATOM|RED)\b"),
    ("convert", r"^(I2F|F2I|I2FP|F2IP|FRND|F2F|I2I)\b"),
    ("mufu", r"^MUFU\b"),
    ("control", r"^(BRA|BSSY|BSYNC|EXIT|RET|CALL|WARPSYNC|BAR|BREAK|YIELD|NANOSLEEP|VOTE)\b"),
    ("fp32", r"^(FADD|FMUL|FFMA|FMNMX|FSEL|FSETP|FCHK|FSET|HFMA2|HADD2|HMUL2)\b"),
    ("uniform", r"^U[A-Z0-9]+\b|^S2UR\b"),
    ("int", r"^(IADD3|IMAD|LOP3|SHF|PRMT|ISETP|SEL|IMNMX|VIMNMX|LEA|IABS|POPC|FLO|BMSK|"
            r"MOV|S2R|CS2R|PLOP3|P2R|R2P|IDP|BREV|VIADD|IADD|ISCADD|SGXT)\b"),
]


@dataclass
class Instr:
    addr: int
    op: str  # mnemonic with modifiers, predicate stripped
    text: str


@dataclass
class Entry:
    name: str
    registers: int = 0
    spill_stores: int = 0
    spill_loads: int = 0
    stack: int = 0
    instrs: list[Instr] = field(default_factory=list)

    def loops(self) -> list[tuple[int, int]]:
        """``(first, last)`` instruction indices of each loop, from backward branches."""
        index = {ins.addr: i for i, ins in enumerate(self.instrs)}
        out = []
        for i, ins in enumerate(self.instrs):
            if not ins.op.startswith("BRA"):
                continue
            m = re.search(r"0x([0-9a-f]+)\s*$", ins.text)
            if m and int(m.group(1), 16) <= ins.addr and int(m.group(1), 16) in index:
                out.append((index[int(m.group(1), 16)], i))
        return out


def classify(op: str) -> str:
    for name, pattern in CLASSES:
        if re.match(pattern, op):
            return name
    return "other"


def class_counts(instrs: list[Instr]) -> dict[str, int]:
    counts = {name: 0 for name, _ in CLASSES} | {"other": 0}
    for ins in instrs:
        counts[classify(ins.op)] += 1
    return counts


def find_tool(name: str) -> str:
    """A CUDA binary utility: PATH, $CUDA_HOME/bin, next to nvcc, or Triton's bundled copy."""
    candidates = [shutil.which(name)]
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")):
        if home:
            candidates.append(str(Path(home) / "bin" / name))
    if shutil.which("nvcc"):
        candidates.append(str(Path(shutil.which("nvcc")).resolve().parent / name))
    with contextlib.suppress(ImportError):  # Triton bundles ptxas/cuobjdump
        import triton

        candidates.append(str(Path(triton.__file__).parent / "backends/nvidia/bin" / name))
    for c in candidates:
        if c and Path(c).is_file():
            return c
    raise SystemExit(f"{name} not found (install the CUDA toolkit, or pip install triton)")


def source_tree(rev: str | None, tmp: Path) -> Path:
    """A folder holding the kernel and its headers: the working tree, or ``rev``'s files."""
    if rev is None:
        return ROOT
    for path in [KERNEL, *HEADERS]:
        text = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
        (tmp / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp / path).write_text(text)
    return tmp


def compile_cubin(tree: Path, arch: str, out: Path) -> str:
    """nvcc -cubin; returns ptxas's verbose report."""
    cmd = ["nvcc", "-std=c++17", f"-arch={arch}", "-cubin", f"-I{tree / 'csrc/include'}",
           str(tree / KERNEL), "-o", str(out), "-Xptxas", "-v"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"nvcc failed:\n{proc.stderr}")
    return proc.stderr


def parse_ptxas(report: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    current = None
    for line in report.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            current = entries.setdefault(m.group(1), Entry(m.group(1)))
        elif current is not None:
            m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill "
                          r"loads", line)
            if m:
                current.stack, current.spill_stores, current.spill_loads = map(int, m.groups())
            m = re.search(r"Used (\d+) registers", line)
            if m:
                current.registers = int(m.group(1))
    return entries


def parse_sass(sass: str, entries: dict[str, Entry]) -> None:
    current = None
    for line in sass.splitlines():
        m = re.search(r"Function : (\w+)", line)
        if m:
            current = entries.setdefault(m.group(1), Entry(m.group(1)))
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+([^;]*);", line)
        if m and current is not None:
            text = m.group(2).strip()
            op = re.sub(r"^@!?U?P[T0-9]+\s+", "", text).split()[0]
            if op == "NOP":
                continue
            current.instrs.append(Instr(int(m.group(1), 16), op, text))
    for e in entries.values():  # drop the trailing `BRA self` that ends every function
        if e.instrs and re.search(rf"BRA\s+0x{e.instrs[-1].addr:x}\s*$", e.instrs[-1].text):
            e.instrs.pop()


def pixels_per_thread(tree: Path) -> int:
    m = re.search(r"kPixelsPerThread\s*=\s*(\d+)", (tree / KERNEL).read_text())
    return int(m.group(1)) if m else 1


def analyse(rev: str | None, arch: str) -> tuple[dict[str, Entry], int]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = source_tree(rev, Path(tmp))
        cubin = Path(tmp) / "recolor.cubin"
        entries = parse_ptxas(compile_cubin(tree, arch, cubin))
        sass = subprocess.run([find_tool("cuobjdump"), "-sass", str(cubin)], check=True,
                              capture_output=True, text=True).stdout
        parse_sass(sass, entries)
        return entries, pixels_per_thread(tree)


def _classes(instrs: list[Instr]) -> str:
    c = class_counts(instrs)
    return ", ".join(f"{k} {v}" for k, v in c.items() if v)


def report(label: str, entries: dict[str, Entry], px: int) -> list[str]:
    lines = [f"### {label} ({px} pixels a thread)", "",
             "| entry | registers | spill st/ld (B) | total | prologue | variant loop | "
             "variant loop / pixel | inner loops |",
             "|---|---|---|---|---|---|---|---|"]
    details = []
    for e in sorted(entries.values(), key=lambda e: e.name):
        loops = sorted(e.loops(), key=lambda lo: lo[1] - lo[0], reverse=True)
        first, last = loops[0] if loops else (len(e.instrs), len(e.instrs) - 1)
        body, prologue = e.instrs[first : last + 1], e.instrs[:first]
        inner = [(a, b) for a, b in loops[1:] if first <= a and b <= last]
        lines.append(f"| {e.name} | {e.registers} | {e.spill_stores}/{e.spill_loads} "
                     f"| {len(e.instrs)} | {len(prologue)} | {len(body)} "
                     f"| {len(body) / px:.1f} | "
                     f"{', '.join(str(b - a + 1) for a, b in inner) or '-'} |")
        details += [f"- `{e.name}` total: {_classes(e.instrs)}",
                    f"- `{e.name}` prologue: {_classes(prologue)}",
                    f"- `{e.name}` variant loop: {_classes(body)}"]
        details += [f"- `{e.name}` loop of {b - a + 1} at 0x{e.instrs[a].addr:04x}: "
                    f"{_classes(e.instrs[a : b + 1])}" for a, b in loops[1:]]
    return [*lines, "", *details, ""]


TRITON_KERNEL = Path("kernels/recolor_triton.py")


def _triton_module(rev: str | None, tmp: Path):
    """kernels/recolor_triton.py of the working tree or of ``rev``, imported by path."""
    import importlib.util

    path = ROOT / TRITON_KERNEL
    if rev is not None:
        path = tmp / f"recolor_triton_{rev}.py"
        path.write_text(subprocess.run(["git", "show", f"{rev}:{TRITON_KERNEL}"], cwd=ROOT,
                                       check=True, capture_output=True, text=True).stdout)
    name = f"_sass_triton_{rev or 'tree'}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _triton_signature(fn) -> dict[str, str]:
    # kernels with a SIZE_CLASS argument take the pixel buffers as int32 words
    words = "SIZE_CLASS" in fn.arg_names
    pointers = {"params_ptr": "*fp32", "meta_ptr": "*i64"}
    return {p.name: "constexpr" if p.is_constexpr
            else pointers.get(p.name, "*i32" if words else "*u8") if p.name.endswith("_ptr")
            else "i32" for p in fn.params}


def triton_report(rev: str | None, arch: str) -> list[str]:
    os.environ.pop("TRITON_INTERPRET", None)  # before the kernel module is imported
    import triton
    from triton.backends.compiler import GPUTarget

    cc = int(arch.removeprefix("sm_"))
    lines = [f"### Triton kernel, {'at ' + rev if rev else 'working tree'}", "",
             "| BLOCK | warps | HAS_LAB | px a thread | registers | spill (B) | PTX global "
             "loads (static) | PTX global stores (static: copy + recolour paths) | K loop "
             "| K loop / pixel |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        kt = _triton_module(rev, Path(tmp))
        fn = kt.recolor_kernel
        for config in kt.AUTOTUNE_CONFIGS:
            block, warps = config.kwargs["BLOCK"], config.num_warps
            for has_lab in (False, True):
                src = triton.compiler.ASTSource(fn=fn, signature=_triton_signature(fn),
                                                constexprs={"BLOCK": block, "HAS_LAB": has_lab})
                compiled = triton.compile(src, target=GPUTarget("cuda", cc, 32),
                                          options={"num_warps": warps})
                lines.append(_triton_row(compiled, block, warps, has_lab, Path(tmp)))
    return [*lines, ""]


def _widths(ptx: str, op: str) -> str:
    found = re.findall(rf"\b{op}\.global(?:\.nc)?((?:\.v\d)?\.[a-z]+\d+)", ptx)
    return ", ".join(f"{n}x {w.lstrip('.')}" for w, n in sorted(Counter(found).items())) or "-"


def _triton_row(compiled, block: int, warps: int, has_lab: bool, tmp: Path) -> str:
    cubin = tmp / "triton.cubin"
    cubin.write_bytes(compiled.asm["cubin"])
    usage = subprocess.run([find_tool("cuobjdump"), "-res-usage", str(cubin)], check=True,
                           capture_output=True, text=True).stdout
    regs = re.search(r"REG:(\d+)", usage).group(1)
    local = re.search(r"LOCAL:(\d+)", usage).group(1)
    entries: dict[str, Entry] = {}
    parse_sass(subprocess.run([find_tool("cuobjdump"), "-sass", str(cubin)], check=True,
                              capture_output=True, text=True).stdout, entries)
    (entry,) = entries.values()
    loops = sorted(entry.loops(), key=lambda lo: lo[1] - lo[0], reverse=True)
    body = loops[0][1] - loops[0][0] + 1 if loops else 0
    px = max(1, block // (32 * warps))
    ptx = compiled.asm["ptx"]
    return (f"| {block} | {warps} | {has_lab} | {px} | {regs} | {local} | {_widths(ptx, 'ld')} "
            f"| {_widths(ptx, 'st')} | {body} | {body / px:.1f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=HelpFormatter)
    ap.add_argument("--arch", default="sm_90", help="GPU architecture to compile for")
    ap.add_argument("--rev", default=None,
                    help="also analyse kernels/recolor.cu and its headers at this git revision")
    ap.add_argument("--triton", action="store_true",
                    help="also compile kernels/recolor_triton.py (and at --rev) for --arch")
    ap.add_argument("--save", action="store_true",
                    help="write bench/results/sass-<arch>.md (a plain run only prints)")
    args = ap.parse_args(argv)
    lines = [f"# Static SASS of the recolouring kernels ({args.arch})", "",
             "Made by `python bench/sass.py" + (f" --rev {args.rev}" if args.rev else "")
             + (" --triton" if args.triton else "") + " --save`; method in its docstring.", ""]
    if args.rev:
        lines += report(f"at {args.rev}", *analyse(args.rev, args.arch))
    lines += report("working tree", *analyse(None, args.arch))
    if args.triton:
        if args.rev:
            lines += triton_report(args.rev, args.arch)
        lines += triton_report(None, args.arch)
    text = "\n".join(lines)
    print(text)
    if args.save:
        out = ROOT / "bench" / "results" / f"sass-{args.arch.replace('_', '')}.md"
        out.write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
