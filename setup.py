"""Builds the CPU extension `colorist._C` from csrc/ (g++ -O3, OpenMP).

The GPU kernels need no build step: Triton kernels are Python, and the CUDA C++ kernel is
compiled at first use by NVRTC (through CuPy), so this file builds the same CPU-only
extension whether or not the machine has a GPU or nvcc.
"""

import os
import sys

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup


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
    include_dirs=["csrc", "csrc/include"],
    cxx_std=17,
    extra_compile_args=["-O3", *omp_compile],
    extra_link_args=omp_link,
)

setup(ext_modules=[ext], cmdclass={"build_ext": build_ext})
