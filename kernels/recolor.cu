// CUDA C++ recolouring kernels: fused RGB -> HSV -> map -> RGB -> alpha blend, K variants a
// read of each pixel.
//
// Compiled at first use by NVRTC through CuPy's RawModule (colorist/recolor/gpu_backends.py)
// with -I pointing at csrc/include, so the per-pixel math is the very header the CPU
// extension compiles (csrc/include/colorist/pixel_math.h, with the parameter layout
// generated from colorist/recolor/plan.py). tests/test_kernels_gpu.py also compiles this
// file with nvcc and NVRTC (compile-only) wherever they exist, and runs it on the host
// through tests/native/cuda_host_shim.h against the reference.
//
// Batch layout (colorist/recolor/gpu_batch.py): one flat uint8 buffer of RGB pixels and one
// of alpha bytes (the pre-pass's selective alpha; 0 copies the pixel); every image starts
// at a multiple of 16 pixels. meta[i] = {first pixel, pixel count, first output byte, bytes
// between variants} (int64); params is (N, K, COLORIST_PARAMS) float32, 16-byte aligned.
// Launch: grid (ceil(max count / (kThreads * kPixelsPerThread)), N), block kThreads; a batch
// of more than 65,535 images is launched in chunks with meta and params offset.
//
// Each thread owns kPixelsPerThread = 8 consecutive pixels: three 8-byte loads of RGB and
// one of alpha (no stride-3 byte loads), then per variant three 8-byte stores. Pixels past
// an image's count are the padding of the packed buffer (inputs and outputs both have it),
// so no thread needs a tail loop. 8 and not 16 pixels: a warp's request then covers 768
// bytes of RGB instead of 1536, the same third of each sector per request (DRAM traffic is
// the same, L1 keeps the lines between a thread's three requests), and memory instructions
// stay under 1% of the instructions a pixel; 16 pixels fill all 64 registers and need 76
// KiB of CIELAB scratch (over the 48 KiB of static shared memory).
//
// What stays in registers across the variant loop: the RGB words (6), the alpha words (2)
// and the pixels' OpenCV HSV packed like the RGB (6 words: H, S, V are bytes), computed
// once per pixel, without a conversion or division instruction (pixel_math.h's device
// arithmetic). A variant reads its parameter row with float4 loads (uniform, broadcast),
// recolours each pixel with alpha > 0 and stores each 8-byte output vector as soon as its
// pixels are done. Two entry points: recolor_kernel_hsv for batches without a CIELAB row
// (the CIELAB code is not compiled in) and recolor_kernel_lab, which keeps the pixels' Lab
// in shared memory (LabScratch). bench/sass.py reports registers and instruction counts.

#include "colorist/pixel_math.h"

using colorist::u8;

namespace {

constexpr int kThreads = 256;
constexpr int kPixelsPerThread = 8;
constexpr int kVecWords = kPixelsPerThread / 4;  // a vector: one thread's alpha bytes
constexpr int kWords = 3 * kVecWords;            // its RGB (or HSV) bytes in 32-bit words
static_assert(kVecWords == 4 || kVecWords == 2, "16 or 8 pixels a thread");

struct Pixels {
  unsigned rgb[kWords];
  unsigned alpha[kVecWords];
};

// kVecWords words through one vector load / store (16 or 8 bytes).
__device__ __forceinline__ void load_vector(const u8* src, unsigned* words) {
  if constexpr (kVecWords == 4) {
    const uint4 w = __ldg(reinterpret_cast<const uint4*>(src));
    words[0] = w.x, words[1] = w.y, words[2] = w.z, words[3] = w.w;
  } else {
    const uint2 w = __ldg(reinterpret_cast<const uint2*>(src));
    words[0] = w.x, words[1] = w.y;
  }
}

__device__ __forceinline__ void store_vector(u8* dst, const unsigned* words) {
  if constexpr (kVecWords == 4) {
    *reinterpret_cast<uint4*>(dst) = make_uint4(words[0], words[1], words[2], words[3]);
  } else {
    *reinterpret_cast<uint2*>(dst) = make_uint2(words[0], words[1]);
  }
}

__device__ __forceinline__ unsigned byte_of(const unsigned* words, int i) {
  // i is a compile-time constant after unrolling: the word stays in a register.
  return (words[i >> 2] >> ((i & 3) * 8)) & 0xffu;
}

// Byte i of the words as a float, without a conversion instruction: one PRMT puts the byte
// under the exponent of 2^23, one FADD takes 2^23 away.
__device__ __forceinline__ float byte_as_float(const unsigned* words, int i) {
  return colorist::bits_float(__byte_perm(words[i >> 2], 0x4B000000u, 0x7650u | (i & 3))) -
         8388608.f;
}

__device__ __forceinline__ void set_byte(unsigned* words, int i, unsigned value) {
  // PRMT: byte (i & 3) of the word from byte 0 of value (selector nibble 4), others kept.
  const unsigned keep = 0x3210u & ~(0xfu << ((i & 3) * 4));
  words[i >> 2] = __byte_perm(words[i >> 2], value, keep | (4u << ((i & 3) * 4)));
}

__device__ __forceinline__ void load_pixels(const u8* __restrict__ rgb,
                                            const u8* __restrict__ alpha, long long pixel,
                                            Pixels* in) {
#pragma unroll
  for (int v = 0; v < 3; ++v) load_vector(rgb + pixel * 3 + v * 4 * kVecWords, in->rgb + v * kVecWords);
  load_vector(alpha + pixel, in->alpha);
}

// After pixel i, the output vectors its bytes complete go out (constant-folded).
__device__ __forceinline__ void store_done(u8* dst, const unsigned* out, int i) {
#pragma unroll
  for (int v = 0; v < 3; ++v) {
    const int last_byte = 4 * kVecWords * (v + 1) - 1;
    if (i == last_byte / 3) store_vector(dst + 4 * kVecWords * v, out + kVecWords * v);
  }
}

// OpenCV's HSV of the pixels with alpha > 0, packed as the RGB is (0 elsewhere).
__device__ __forceinline__ void pixels_hsv(const Pixels& in, unsigned* hsv) {
#pragma unroll
  for (int w = 0; w < kWords; ++w) hsv[w] = 0u;
#pragma unroll
  for (int i = 0; i < kPixelsPerThread; ++i) {
    if (byte_of(in.alpha, i) == 0u) continue;
    int h, s, v;
    colorist::rgb_to_hsv_u8(byte_of(in.rgb, 3 * i), byte_of(in.rgb, 3 * i + 1),
                            byte_of(in.rgb, 3 * i + 2), &h, &s, &v);
    set_byte(hsv, 3 * i, h);
    set_byte(hsv, 3 * i + 1, s);
    set_byte(hsv, 3 * i + 2, v);
  }
}

__device__ __forceinline__ void blend_into(unsigned* out, const Pixels& in, int i, unsigned a,
                                           float r, float g, float b) {
  const float rec[3] = {r, g, b};
#pragma unroll
  for (int c = 0; c < 3; ++c) {
    const int j = 3 * i + c;
    set_byte(out, j, colorist::blend_int(byte_of(in.rgb, j), colorist::unit_to_int(rec[c]), a));
  }
}

// The row's fields [4 * first, 4 * last) through float4 loads (rows are 80 bytes, 16-aligned).
__device__ __forceinline__ void load_row(const float* row, int first, int last, float* p) {
  const float4* r4 = reinterpret_cast<const float4*>(row);
#pragma unroll
  for (int q = first; q < last; ++q) {
    const float4 f = __ldg(r4 + q);
    p[4 * q] = f.x;
    p[4 * q + 1] = f.y;
    p[4 * q + 2] = f.z;
    p[4 * q + 3] = f.w;
  }
}

// The thread's words as the compiler must reread them in every variant: an empty asm that
// "changes" them stops it from hoisting their unpacking (bytes to floats and ints) out of
// the variant loop, which would hold 3 to 6 registers a pixel instead of 3 to 4 bytes.
template <int N>
__device__ __forceinline__ void opaque_copy(const unsigned* from, unsigned* to) {
#pragma unroll
  for (int w = 0; w < N; ++w) {
    to[w] = from[w];
    asm("" : "+r"(to[w]));
  }
}

// One HSV-mode variant of the thread's pixels, stored to dst.
__device__ __forceinline__ void hsv_variant(const Pixels& pixels, const unsigned* packed_hsv,
                                            const float* row, u8* dst) {
  float p[colorist::COLORIST_PARAMS];
  load_row(row, 0, (colorist::P_V_ADD + 4) / 4, p);  // up to v_add: what the HSV mode reads
  Pixels in;
  unsigned hsv[kWords], out[kWords];
  opaque_copy<kWords>(pixels.rgb, in.rgb);
  opaque_copy<kVecWords>(pixels.alpha, in.alpha);
  opaque_copy<kWords>(packed_hsv, hsv);
  opaque_copy<kWords>(pixels.rgb, out);
#pragma unroll
  for (int i = 0; i < kPixelsPerThread; ++i) {
    const unsigned a = byte_of(in.alpha, i);
    if (a != 0u) {
      float r, g, b;
      colorist::recolor_hsv_f(byte_as_float(hsv, 3 * i), byte_as_float(hsv, 3 * i + 1),
                              byte_as_float(hsv, 3 * i + 2), p, &r, &g, &b);
      blend_into(out, in, i, a, r, g, b);
    }
    store_done(dst, out, i);
  }
}

// ---- CIELAB rows: the pixels' Lab once, in shared memory --------------------------------
//
// Caching 3 floats a pixel in registers would take 24 (8 pixels), so a thread keeps its
// pixels' Lab, RGB, alpha and the output it builds in its own slice of shared memory
// (thread-interleaved words: conflict-free, and no barrier since no thread reads
// another's). The pixel loop then indexes at run time: one copy of the CIELAB code.
struct LabScratch {
  float lab[3 * kPixelsPerThread][kThreads];
  unsigned rgb[kWords][kThreads];
  unsigned alpha[kVecWords][kThreads];
  unsigned out[kWords][kThreads];
};

__device__ __forceinline__ unsigned scratch_byte(const unsigned (*words)[kThreads], int i) {
  return reinterpret_cast<const u8*>(&words[i >> 2][threadIdx.x])[i & 3];
}

// Lab of the thread's pixels with alpha > 0, into the scratch.
__device__ __forceinline__ void pixels_lab(const Pixels& in, LabScratch* s) {
  const int t = threadIdx.x;
#pragma unroll
  for (int w = 0; w < kWords; ++w) s->rgb[w][t] = in.rgb[w];
#pragma unroll
  for (int w = 0; w < kVecWords; ++w) s->alpha[w][t] = in.alpha[w];
#pragma unroll 1
  for (int i = 0; i < kPixelsPerThread; ++i) {
    if (scratch_byte(s->alpha, i) == 0u) continue;
    const float k = 1.f / 255.f;
    colorist::rgb_to_lab_f(colorist::small_to_float(scratch_byte(s->rgb, 3 * i)) * k,
                           colorist::small_to_float(scratch_byte(s->rgb, 3 * i + 1)) * k,
                           colorist::small_to_float(scratch_byte(s->rgb, 3 * i + 2)) * k,
                           &s->lab[3 * i][t], &s->lab[3 * i + 1][t], &s->lab[3 * i + 2][t]);
  }
}

// One CIELAB-mode variant of the thread's pixels, stored to dst.
__device__ __forceinline__ void lab_variant(const Pixels& in, LabScratch* s, const float* row,
                                            u8* dst) {
  const int t = threadIdx.x;
  float p[colorist::COLORIST_PARAMS];
  load_row(row, colorist::P_L_MUL / 4, colorist::COLORIST_PARAMS / 4, p);
#pragma unroll
  for (int w = 0; w < kWords; ++w) s->out[w][t] = in.rgb[w];
#pragma unroll 1
  for (int i = 0; i < kPixelsPerThread; ++i) {
    const unsigned a = scratch_byte(s->alpha, i);
    if (a == 0u) continue;
    float rec[3];
    colorist::recolor_lab_f(s->lab[3 * i][t], s->lab[3 * i + 1][t], s->lab[3 * i + 2][t], p,
                            &rec[0], &rec[1], &rec[2]);
#pragma unroll
    for (int c = 0; c < 3; ++c) {
      const int j = 3 * i + c;
      reinterpret_cast<u8*>(&s->out[j >> 2][t])[j & 3] = (u8)colorist::blend_int(
          scratch_byte(s->rgb, j), colorist::unit_to_int(rec[c]), a);
    }
  }
#pragma unroll
  for (int v = 0; v < 3; ++v) {
    unsigned words[kVecWords];
#pragma unroll
    for (int w = 0; w < kVecWords; ++w) words[w] = s->out[kVecWords * v + w][t];
    store_vector(dst + 4 * kVecWords * v, words);
  }
}

__device__ __forceinline__ void copy_variant(const Pixels& in, u8* dst) {
#pragma unroll
  for (int v = 0; v < 3; ++v) store_vector(dst + 4 * kVecWords * v, in.rgb + kVecWords * v);
}

template <bool kHasLab>
__device__ __forceinline__ void recolor(const u8* __restrict__ rgb,
                                        const u8* __restrict__ alpha, u8* __restrict__ out,
                                        const float* __restrict__ params,
                                        const long long* __restrict__ meta, int k,
                                        LabScratch* scratch) {
  const int img = blockIdx.y;
  const long long start = __ldg(meta + img * 4), count = __ldg(meta + img * 4 + 1);
  const long long first =
      ((long long)blockIdx.x * kThreads + threadIdx.x) * kPixelsPerThread;
  if (first >= count) return;
  const long long stride = __ldg(meta + img * 4 + 3);
  u8* dst = out + __ldg(meta + img * 4 + 2) + first * 3;

  Pixels in;
  load_pixels(rgb, alpha, start + first, &in);
  unsigned any = 0u;
#pragma unroll
  for (int w = 0; w < kVecWords; ++w) any |= in.alpha[w];
  if (any == 0u) {  // nothing to recolour: K copies
    for (int j = 0; j < k; ++j, dst += stride) copy_variant(in, dst);
    return;
  }
  const float* row = params + (long long)img * k * colorist::COLORIST_PARAMS;
  unsigned hsv[kWords];
  pixels_hsv(in, hsv);
  if (kHasLab && colorist::any_lab(row, k)) pixels_lab(in, scratch);
  for (int j = 0; j < k; ++j, row += colorist::COLORIST_PARAMS, dst += stride) {
    const float mode = __ldg(row + colorist::P_MODE);
    if (mode == (float)colorist::MODE_HSV) {
      hsv_variant(in, hsv, row, dst);
    } else if (kHasLab && mode == (float)colorist::MODE_LAB) {
      lab_variant(in, scratch, row, dst);
    } else {  // MODE_COPY (recolor_kernel_hsv is never given a CIELAB row)
      copy_variant(in, dst);
    }
  }
}

}  // namespace

// __launch_bounds__(kThreads, 4): at most 64 registers, so 4 blocks (1024 threads) fit an SM.
extern "C" __global__ void __launch_bounds__(kThreads, 4)
    recolor_kernel_hsv(const u8* __restrict__ rgb, const u8* __restrict__ alpha,
                       u8* __restrict__ out, const float* __restrict__ params,
                       const long long* __restrict__ meta, int k) {
  recolor<false>(rgb, alpha, out, params, meta, k, nullptr);
}

extern "C" __global__ void __launch_bounds__(kThreads, 4)
    recolor_kernel_lab(const u8* __restrict__ rgb, const u8* __restrict__ alpha,
                       u8* __restrict__ out, const float* __restrict__ params,
                       const long long* __restrict__ meta, int k) {
  __shared__ LabScratch scratch;  // 38 KiB at 8 pixels a thread
  recolor<true>(rgb, alpha, out, params, meta, k, &scratch);
}
