// pybind11 bindings of the CPU backend: the module `colorist._C`.
//
// Shapes and dtypes are checked on the Python side (colorist/recolor/backends.py) where the
// error can name the bad item; here they are checked again so that a direct call can never
// read or write out of bounds.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "colorist/pixel_math.h"
#include "recolor_cpu.h"

namespace py = pybind11;
using U8Array = py::array_t<std::uint8_t, py::array::c_style>;
using F32Array = py::array_t<float, py::array::c_style>;

namespace {

std::string item(std::size_t i) { return "item " + std::to_string(i) + ": "; }

colorist::ImageJob make_job(std::size_t i, const U8Array& img, const U8Array& alpha,
                            const py::array& out, const F32Array& params, int k) {
  if (img.ndim() != 3 || img.shape(2) != 3) throw std::invalid_argument(item(i) + "image must be (H, W, 3)");
  const auto h = img.shape(0), w = img.shape(1);
  if (alpha.ndim() != 2 || alpha.shape(0) != h || alpha.shape(1) != w)
    throw std::invalid_argument(item(i) + "alpha must be (H, W) like its image");
  if (out.ndim() != 4 || out.shape(0) != k || out.shape(1) != h || out.shape(2) != w || out.shape(3) != 3)
    throw std::invalid_argument(item(i) + "output must be (K, H, W, 3)");
  // Outputs are taken as plain arrays: converting them would write into a temporary copy.
  if (!out.dtype().is(py::dtype::of<std::uint8_t>()) || !(out.flags() & py::array::c_style) ||
      !out.writeable())
    throw std::invalid_argument(item(i) + "output must be a writeable C-contiguous uint8 array");
  const float* p = params.data() + static_cast<std::int64_t>(i) * k * colorist::COLORIST_PARAMS;
  auto* dst = static_cast<std::uint8_t*>(const_cast<void*>(out.data()));
  return {img.data(), alpha.data(), dst, h * w, p};
}

void recolor_batch(const std::vector<U8Array>& images, const std::vector<U8Array>& alphas,
                   const F32Array& params, const std::vector<py::array>& outs, int threads) {
  const std::size_t n = images.size();
  if (alphas.size() != n || outs.size() != n)
    throw std::invalid_argument("images, alphas and outputs must have the same length");
  if (params.ndim() != 3 || static_cast<std::size_t>(params.shape(0)) != n ||
      params.shape(2) != colorist::COLORIST_PARAMS)
    throw std::invalid_argument("params must be (N, K, " + std::to_string(colorist::COLORIST_PARAMS) + ") float32");
  const int k = static_cast<int>(params.shape(1));
  std::vector<colorist::ImageJob> jobs;
  jobs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) jobs.push_back(make_job(i, images[i], alphas[i], outs[i], params, k));
  py::gil_scoped_release release;
  colorist::recolor_batch_cpu(jobs, k, threads);
}

U8Array rgb_to_hsv(const U8Array& rgb, int threads) {
  if (rgb.ndim() < 1 || rgb.shape(rgb.ndim() - 1) != 3) throw std::invalid_argument("last axis must be 3 (RGB)");
  U8Array hsv(std::vector<py::ssize_t>(rgb.shape(), rgb.shape() + rgb.ndim()));
  const std::int64_t n = rgb.size() / 3;
  std::uint8_t* dst = hsv.mutable_data();
  {
    py::gil_scoped_release release;
    colorist::rgb_to_hsv_cpu(rgb.data(), dst, n, threads);
  }
  return hsv;
}

F32Array rgb_to_lab(const U8Array& rgb, int threads) {
  if (rgb.ndim() < 1 || rgb.shape(rgb.ndim() - 1) != 3) throw std::invalid_argument("last axis must be 3 (RGB)");
  F32Array lab(std::vector<py::ssize_t>(rgb.shape(), rgb.shape() + rgb.ndim()));
  const std::int64_t n = rgb.size() / 3;
  float* dst = lab.mutable_data();
  {
    py::gil_scoped_release release;
    colorist::rgb_to_lab_cpu(rgb.data(), dst, n, threads);
  }
  return lab;
}

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "colorist CPU backend: fused masked recolouring (OpenMP) and colour conversions";
  m.attr("NUM_PARAMS") = static_cast<int>(colorist::COLORIST_PARAMS);
  m.def("recolor_batch", &recolor_batch, py::arg("images"), py::arg("alphas"), py::arg("params"),
        py::arg("outputs"), py::arg("threads") = 0,
        "Recolour N images (H_i, W_i, 3) uint8 with alphas (H_i, W_i) uint8 and params (N, K, P)\n"
        "float32 into outputs (K, H_i, W_i, 3) uint8 (alpha-blended). Releases the GIL.");
  m.def("rgb_to_hsv", &rgb_to_hsv, py::arg("rgb"), py::arg("threads") = 0,
        "OpenCV-exact uint8 RGB -> HSV (H in [0, 180)).");
  m.def("rgb_to_lab", &rgb_to_lab, py::arg("rgb"), py::arg("threads") = 0,
        "uint8 RGB -> float32 CIELAB (L in [0, 100]).");
  m.def("has_openmp", &has_openmp);
  m.def("simd_path", &colorist::simd_path,
        "The HSV variant loop in use: 'avx2' (explicit intrinsics) or 'portable'.");
  m.def("set_simd", &colorist::set_simd, py::arg("enabled"),
        "Allow (True, the default) or forbid the explicit AVX2 loop; returns simd_path().\n"
        "For tests and benchmarks that compare the two paths.");
}
