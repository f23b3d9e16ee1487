"""GPU kernels, installed as ``colorist.kernels``.

* ``recolor_triton.py``: the Triton kernels (backend ``triton``).
* ``recolor.cu``: the CUDA C++ kernels (backend ``cuda``), compiled at first use by NVRTC
  with the per-pixel header csrc/include/colorist/pixel_math.h that the CPU extension
  shares.

The launch code and the batch layout live in colorist/recolor/gpu_backends.py and
colorist/recolor/gpu_batch.py; the numpy reference next to them
(colorist/recolor/reference.py) is what every kernel is tested against.
"""
