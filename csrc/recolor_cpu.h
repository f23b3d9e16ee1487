// CPU recolouring over a batch of images of different sizes (OpenMP, one read per pixel).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace colorist {

// One image of the batch: contiguous H*W*3 RGB, H*W alpha, and K contiguous H*W*3 outputs.
struct ImageJob {
  const std::uint8_t* rgb;
  const std::uint8_t* alpha;  // the pre-pass's alpha; 0: the pixel is copied
  std::uint8_t* out;       // K planes of npixels * 3 bytes
  std::int64_t npixels;
  const float* params;     // K rows of COLORIST_PARAMS floats
};

// Recolours every image into its K variants, each pixel blended with the original by its
// alpha; pixels with alpha == 0 are copied unchanged.
// `threads` <= 0 uses OpenMP's default.
void recolor_batch_cpu(const std::vector<ImageJob>& jobs, int k, int threads);

// The HSV variant loop in use: "avx2" (explicit intrinsics, chosen when the CPU has AVX2)
// or "portable" (the shared header's per-pixel math, vectorised by the compiler).
const char* simd_path();
// Allows (the default) or forbids the AVX2 loop; returns simd_path(). Not thread-safe:
// for tests and benchmarks, between calls.
const char* set_simd(bool enabled);

// OpenCV-exact uint8 RGB -> HSV over n pixels (for golden tests and the palette).
void rgb_to_hsv_cpu(const std::uint8_t* rgb, std::uint8_t* hsv, std::int64_t n, int threads);

// uint8 RGB -> float CIELAB over n pixels.
void rgb_to_lab_cpu(const std::uint8_t* rgb, float* lab, std::int64_t n, int threads);

}  // namespace colorist
