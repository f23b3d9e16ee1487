#include "recolor_cpu.h"

#include <algorithm>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "colorist/pixel_math.h"

namespace colorist {
namespace {

// Pixels per OpenMP work item: large enough to amortise scheduling, small enough to
// balance a batch whose images differ in size.
constexpr std::int64_t kChunk = 1 << 14;

struct Chunk {
  int job;
  std::int64_t begin, end;
};

std::vector<Chunk> split_into_chunks(const std::vector<ImageJob>& jobs) {
  std::vector<Chunk> chunks;
  for (int j = 0; j < static_cast<int>(jobs.size()); ++j) {
    for (std::int64_t b = 0; b < jobs[j].npixels; b += kChunk) {
      chunks.push_back({j, b, std::min(b + kChunk, jobs[j].npixels)});
    }
  }
  return chunks;
}

// At most this many variants share one read of a pixel; more are done in further passes.
constexpr int kMaxVariants = 32;
// Masked pixels gathered per block: their HSV is computed once, then each variant runs as
// a tight loop over the block (structure of arrays, no branches: it vectorises).
constexpr int kBlock = 256;

struct Block {
  int n = 0;
  std::int64_t index[kBlock];
  int alpha[kBlock];
  int r0[kBlock], g0[kBlock], b0[kBlock];  // the original pixel
  float h[kBlock], s[kBlock], v[kBlock];
  float L[kBlock], A[kBlock], B[kBlock];  // CIELAB, only when some row needs it
  float r[kBlock], g[kBlock], b[kBlock];
  u8 out_r[kBlock], out_g[kBlock], out_b[kBlock];  // blended, before the scatter
};

// sRGB -> linear of the 256 uint8 levels, by the header's own function: the same floats as
// computing it per pixel, without three powf calls a pixel.
struct LinearLut {
  float v[256];
  LinearLut() {
    for (int i = 0; i < 256; ++i) v[i] = srgb_to_linear(i * (1.f / 255.f));
  }
};

const LinearLut& linear_lut() {
  static const LinearLut lut;
  return lut;
}

// The variant loop over a block is where K > 1 spends its time: vectorised (SSE2 baseline),
// and cloned for AVX2 where the compiler supports function multiversioning (chosen at load
// time by the CPU, so one wheel runs everywhere).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define COLORIST_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define COLORIST_SIMD_CLONES
#endif

COLORIST_SIMD_CLONES void recolor_block_hsv(Block& blk, const float* p) {
  const int n = blk.n;
  for (int i = 0; i < n; ++i) {
    recolor_hsv_f(blk.h[i], blk.s[i], blk.v[i], p, &blk.r[i], &blk.g[i], &blk.b[i]);
  }
  for (int i = 0; i < n; ++i) {  // round, then the alpha blend: vectorised as well
    const int a = blk.alpha[i];
    blk.out_r[i] = blend_u8(blk.r0[i], unit_to_u8(blk.r[i]), a);
    blk.out_g[i] = blend_u8(blk.g0[i], unit_to_u8(blk.g[i]), a);
    blk.out_b[i] = blend_u8(blk.b0[i], unit_to_u8(blk.b[i]), a);
  }
}

void flush_block(Block& blk, const ImageJob& job, const float* params, int k) {
  const std::int64_t plane = job.npixels * 3;
  for (int var = 0; var < k; ++var) {
    const float* p = params + var * COLORIST_PARAMS;
    std::uint8_t* out = job.out + var * plane;
    if (p[P_MODE] == (float)MODE_HSV) {
      recolor_block_hsv(blk, p);
      for (int i = 0; i < blk.n; ++i) {  // scatter to the pixels' places
        std::uint8_t* o = out + 3 * blk.index[i];
        o[0] = blk.out_r[i];
        o[1] = blk.out_g[i];
        o[2] = blk.out_b[i];
      }
      continue;
    }
    for (int i = 0; i < blk.n; ++i) {  // copy and CIELAB rows: the shared per-pixel path
      PixelColor c;  // the pixel's Lab, computed once in the gather for all K variants
      c.L = blk.L[i];
      c.A = blk.A[i];
      c.B = blk.B[i];
      recolor_blend_pixel(c, (u8)blk.r0[i], (u8)blk.g0[i], (u8)blk.b0[i], blk.alpha[i], p,
                          out + 3 * blk.index[i]);
    }
  }
  blk.n = 0;
}

void recolor_range(const ImageJob& job, int k, std::int64_t begin, std::int64_t end) {
  // A local copy of the rows: the compiler may then keep them in registers, which it
  // cannot do through job.params (the uint8 output could alias them).
  float params[kMaxVariants * COLORIST_PARAMS];
  std::memcpy(params, job.params, sizeof(float) * k * COLORIST_PARAMS);
  const bool need_lab = any_lab(params, k);
  const std::int64_t plane = job.npixels * 3;
  Block blk;
  for (std::int64_t i = begin; i < end; ++i) {
    const u8* px = job.rgb + 3 * i;
    if (job.alpha[i] == 0) {  // a run of untouched pixels: one copy per variant
      std::int64_t j = i + 1;
      while (j < end && job.alpha[j] == 0) ++j;
      for (int v = 0; v < k; ++v) std::memcpy(job.out + v * plane + 3 * i, px, 3 * (j - i));
      i = j - 1;
      continue;
    }
    int h, s, v;
    rgb_to_hsv_u8(px[0], px[1], px[2], &h, &s, &v);
    blk.index[blk.n] = i;
    blk.alpha[blk.n] = job.alpha[i];
    blk.r0[blk.n] = px[0];
    blk.g0[blk.n] = px[1];
    blk.b0[blk.n] = px[2];
    if (need_lab) {
      const float* lin = linear_lut().v;
      linear_rgb_to_lab_f(lin[px[0]], lin[px[1]], lin[px[2]], &blk.L[blk.n], &blk.A[blk.n],
                          &blk.B[blk.n]);
    }
    blk.h[blk.n] = (float)h;
    blk.s[blk.n] = (float)s;
    blk.v[blk.n] = (float)v;
    if (++blk.n == kBlock) flush_block(blk, job, params, k);
  }
  if (blk.n) flush_block(blk, job, params, k);
}

int resolve_threads(int threads) {
#ifdef _OPENMP
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

}  // namespace

void recolor_batch_cpu(const std::vector<ImageJob>& jobs, int k, int threads) {
  if (k > kMaxVariants) {  // split the variants into passes of kMaxVariants
    for (int first = 0; first < k; first += kMaxVariants) {
      std::vector<ImageJob> part = jobs;
      const int kp = std::min(kMaxVariants, k - first);
      for (std::size_t j = 0; j < part.size(); ++j) {
        part[j].out = jobs[j].out + static_cast<std::int64_t>(first) * jobs[j].npixels * 3;
        part[j].params = jobs[j].params + first * COLORIST_PARAMS;
      }
      recolor_batch_cpu(part, kp, threads);
    }
    return;
  }
  const std::vector<Chunk> chunks = split_into_chunks(jobs);
  const std::int64_t n = static_cast<std::int64_t>(chunks.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolve_threads(threads))
  for (std::int64_t c = 0; c < n; ++c) {
    recolor_range(jobs[chunks[c].job], k, chunks[c].begin, chunks[c].end);
  }
}

void rgb_to_hsv_cpu(const std::uint8_t* rgb, std::uint8_t* hsv, std::int64_t n, int threads) {
#pragma omp parallel for schedule(static) num_threads(resolve_threads(threads))
  for (std::int64_t i = 0; i < n; ++i) {
    int h, s, v;
    rgb_to_hsv_u8(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], &h, &s, &v);
    hsv[3 * i] = static_cast<u8>(h);
    hsv[3 * i + 1] = static_cast<u8>(s);
    hsv[3 * i + 2] = static_cast<u8>(v);
  }
}

void rgb_to_lab_cpu(const std::uint8_t* rgb, float* lab, std::int64_t n, int threads) {
#pragma omp parallel for schedule(static) num_threads(resolve_threads(threads))
  for (std::int64_t i = 0; i < n; ++i) {
    PixelColor c;
    load_pixel(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], true, &c);
    lab[3 * i] = c.L;
    lab[3 * i + 1] = c.A;
    lab[3 * i + 2] = c.B;
  }
}

}  // namespace colorist
