// CUDA C++ recolouring kernel: fused RGB -> HSV -> map -> RGB -> alpha blend, K variants a
// read of each pixel.
//
// Compiled at first use by NVRTC through CuPy's RawModule (colorist/recolor/gpu_backends.py)
// with -I pointing at csrc/include, so the per-pixel math is the very header the CPU
// extension compiles (csrc/include/colorist/pixel_math.h, with the parameter layout
// generated from colorist/recolor/plan.py). tests/test_kernels_gpu.py also compiles this
// file with nvcc (compile-only) wherever nvcc exists.
//
// Batch layout (colorist/recolor/gpu_batch.py): one flat uint8 buffer of RGB pixels and one
// of alpha bytes (the pre-pass's selective alpha; 0 copies the pixel); every image starts at a multiple of 16 pixels. meta[i] = {first pixel,
// pixel count, first output byte, bytes between variants} (int64). Each thread owns 16
// consecutive pixels: three 16-byte loads of RGB and one of alpha (no stride-3 byte loads),
// then for each variant three 16-byte stores. Pixels past an image's count are the padding
// of the packed buffer (inputs and outputs both have it), so no thread needs a tail loop.

#include "colorist/pixel_math.h"

using colorist::u8;

namespace {

constexpr int kPixelsPerThread = 16;

struct Pixels16 {
  uint4 rgb[3];  // 48 bytes: 16 RGB pixels
};

__device__ __forceinline__ u8 byte_at(const uint4* v, int i) {
  // i is a compile-time constant after unrolling, so this stays in registers.
  const unsigned int word = reinterpret_cast<const unsigned int*>(v)[i >> 2];
  return (u8)((word >> ((i & 3) * 8)) & 0xffu);
}

__device__ __forceinline__ void set_byte(uint4* v, int i, u8 value) {
  unsigned int* words = reinterpret_cast<unsigned int*>(v);
  const int shift = (i & 3) * 8;
  words[i >> 2] = (words[i >> 2] & ~(0xffu << shift)) | ((unsigned int)value << shift);
}

// Reads 16 pixels and their alpha bytes with four 16-byte loads through the read-only path.
__device__ __forceinline__ uint4 load_pixels16(const u8* __restrict__ rgb,
                                               const u8* __restrict__ alpha, long long pixel,
                                               Pixels16* in) {
  const uint4* src = reinterpret_cast<const uint4*>(rgb + pixel * 3);
  in->rgb[0] = __ldg(src);
  in->rgb[1] = __ldg(src + 1);
  in->rgb[2] = __ldg(src + 2);
  return __ldg(reinterpret_cast<const uint4*>(alpha + pixel));
}

}  // namespace

extern "C" __global__ void recolor_kernel(const u8* __restrict__ rgb,
                                          const u8* __restrict__ alpha,
                                          u8* __restrict__ out,
                                          const float* __restrict__ params,
                                          const long long* __restrict__ meta,
                                          int k, int has_lab) {
  const int img = blockIdx.y;
  const long long start = meta[img * 4], count = meta[img * 4 + 1];
  const long long out_start = meta[img * 4 + 2], stride = meta[img * 4 + 3];
  const long long first =
      ((long long)blockIdx.x * blockDim.x + threadIdx.x) * kPixelsPerThread;
  if (first >= count) return;

  Pixels16 in;
  const uint4 m = load_pixels16(rgb, alpha, start + first, &in);
  const bool any_inside = (m.x | m.y | m.z | m.w) != 0u;

  // One HSV (and Lab, when some row needs it) per pixel, shared by the K variants.
  colorist::PixelColor color[kPixelsPerThread];
  if (any_inside) {
#pragma unroll
    for (int i = 0; i < kPixelsPerThread; ++i) {
      colorist::load_pixel(byte_at(in.rgb, 3 * i), byte_at(in.rgb, 3 * i + 1),
                           byte_at(in.rgb, 3 * i + 2), has_lab != 0, &color[i]);
    }
  }

  const float* row = params + (long long)img * k * colorist::COLORIST_PARAMS;
  for (int j = 0; j < k; ++j, row += colorist::COLORIST_PARAMS) {
    Pixels16 o = in;
    if (any_inside && row[colorist::P_MODE] != (float)colorist::MODE_COPY) {
#pragma unroll
      for (int i = 0; i < kPixelsPerThread; ++i) {
        const int a = byte_at(&m, i);
        if (a == 0) continue;
        u8 px[3];
        colorist::recolor_blend_pixel(color[i], byte_at(in.rgb, 3 * i),
                                      byte_at(in.rgb, 3 * i + 1), byte_at(in.rgb, 3 * i + 2), a,
                                      row, px);
        set_byte(o.rgb, 3 * i, px[0]);
        set_byte(o.rgb, 3 * i + 1, px[1]);
        set_byte(o.rgb, 3 * i + 2, px[2]);
      }
    }
    uint4* dst = reinterpret_cast<uint4*>(out + out_start + j * stride + first * 3);
    dst[0] = o.rgb[0];
    dst[1] = o.rgb[1];
    dst[2] = o.rgb[2];
  }
}
