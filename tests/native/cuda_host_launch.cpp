// kernels/recolor.cu built for the host (tests/native/cuda_host_shim.h) with a launcher that
// walks the grid one thread at a time, and exhaustive checks of the device arithmetic.
// Built and driven by tests/test_kernels_gpu.py through ctypes.
#include "cuda_host_shim.h"

#include <math.h>

#include "recolor.cu"

namespace {

// Every float in [lo, hi] (both >= 0) whose bit pattern is a multiple of `step`.
template <class F>
long long over_floats(float lo, float hi, unsigned step, F&& bad_at) {
  long long bad = 0;
  const unsigned first = colorist::float_bits(lo) / step * step;
  for (unsigned u = first; colorist::bits_float(u) <= hi; u += step) {
    bad += bad_at(colorist::bits_float(u));
  }
  return bad;
}

}  // namespace

extern "C" {

// Runs recolor_kernel_lab (lab != 0) or recolor_kernel_hsv over grid (gx, gy) x block bx.
void emulate_launch(int lab, unsigned gx, unsigned gy, unsigned bx, const u8* rgb,
                    const u8* alpha, u8* out, const float* params, const long long* meta,
                    int k) {
  gridDim = {gx, gy, 1};
  blockDim = {bx, 1, 1};
  for (unsigned y = 0; y < gy; ++y) {
    for (unsigned x = 0; x < gx; ++x) {
      for (unsigned t = 0; t < bx; ++t) {
        blockIdx = {x, y, 0};
        threadIdx = {t, 0, 0};
        if (lab) {
          recolor_kernel_lab(rgb, alpha, out, params, meta, k);
        } else {
          recolor_kernel_hsv(rgb, alpha, out, params, meta, k);
        }
      }
    }
  }
}

int threads_per_block() { return kThreads; }
int pixels_per_thread() { return kPixelsPerThread; }

// The device's rgb_to_hsv_u8 (division by reciprocal) over n pixels.
void device_rgb_to_hsv(const u8* rgb, u8* hsv, long long n) {
  for (long long i = 0; i < n; ++i) {
    int h, s, v;
    colorist::rgb_to_hsv_u8(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], &h, &s, &v);
    hsv[3 * i] = (u8)h;
    hsv[3 * i + 1] = (u8)s;
    hsv[3 * i + 2] = (u8)v;
  }
}

// Mismatches of the device helpers against their plain definitions: blend_int over every
// (orig, rec, alpha); div_round over every table entry; unit_to_int over the floats of
// [0, 1.01] (every `step`-th, and every k / 510 with its two neighbours: the rounding ties)
// and negatives; floor_nonneg over [0, 7) likewise.
long long device_math_mismatches(unsigned step) {
  long long bad = 0;
  for (int o = 0; o < 256; ++o)
    for (int r = 0; r < 256; ++r)
      for (int a = 0; a < 256; ++a)
        bad += colorist::blend_int(o, r, a) != (o * (255 - a) + r * a + 127) / 255;
  for (int i = 1; i < 256; ++i) {
    bad += colorist::div_round(255 << 12, i) != colorist::sdiv_entry(i);
    bad += colorist::div_round(30 << 12, i) != colorist::hdiv_entry(i);
  }
  auto unit_bad = [](float x) {
    float y = nearbyintf(x * 255.f);  // default rounding mode: to nearest, ties to even
    y = y < 0.f ? 0.f : (y > 255.f ? 255.f : y);
    return (long long)(colorist::unit_to_int(x) != (int)y);
  };
  bad += over_floats(0.f, 1.01f, step, unit_bad);
  for (int j = 0; j <= 510; ++j) {
    const float x = (float)j / 510.f;
    bad += unit_bad(x) + unit_bad(nextafterf(x, 0.f)) + unit_bad(nextafterf(x, 2.f));
  }
  bad += unit_bad(-0.f) + unit_bad(-1e-3f) + unit_bad(-1.f) + unit_bad(2.f);
  bad += over_floats(0.f, 6.99f, step, [](float x) {
    return (long long)(colorist::floor_nonneg(x) != floorf(x));
  });
  return bad;
}

}  // extern "C"
