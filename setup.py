"""Builds the CPU extension `colorist._C` from csrc/ (g++ -O3, OpenMP).

The GPU kernels need no build step: Triton kernels are Python, and the CUDA C++ kernel is
compiled at first use by NVRTC (through CuPy), so this file builds the same CPU-only
extension whether or not the machine has a GPU or nvcc.
"""

import os
import shutil
import sys
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

# The per-pixel math and the generated parameter layout it includes.
HEADERS = [Path("csrc/include/colorist/pixel_math.h"), Path("csrc/include/colorist/param_layout.h")]


def openmp_flags():
    """OpenMP compile/link flags, or none when COLORIST_NO_OPENMP=1 (then one thread)."""
    if os.environ.get("COLORIST_NO_OPENMP") == "1" or sys.platform == "win32":
        return [], []
    if sys.platform == "darwin":  # Apple clang needs libomp from Homebrew
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


omp_compile, omp_link = openmp_flags()

ext = Pybind11Extension(
    "colorist._C",
    sources=["csrc/bindings.cpp", "csrc/recolor_cpu.cpp"],
    depends=[str(h) for h in HEADERS],
    include_dirs=["csrc", "csrc/include"],
    cxx_std=17,
    # -fno-trapping-math: no FP exception flags are read, and without it GCC keeps the
    # float selects of the per-pixel math as branches, so the pixel loops do not vectorise
    # (results are unchanged: no -ffast-math, no reassociation)
    extra_compile_args=["-O3", "-fno-trapping-math", *omp_compile],
    extra_link_args=omp_link,
)



class build_py_with_header(build_py):
    """Installs the shared per-pixel headers next to the CUDA kernel that NVRTC compiles."""

    def run(self):
        super().run()
        for header in HEADERS:
            target = (Path(self.build_lib) / "colorist" / "kernels" / "include"
                      / header.relative_to("csrc/include"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(header, target)


setup(
    packages=[*find_packages(include=["colorist", "colorist.*"]), "colorist.kernels"],
    package_dir={"colorist.kernels": "kernels"},
    package_data={
        "colorist": ["data/*.npz", "data/demo/*", "data/demo/images/*", "py.typed"],
        "colorist.kernels": ["*.cu"],
    },
    ext_modules=[ext],
    cmdclass={"build_ext": build_ext, "build_py": build_py_with_header},
)
