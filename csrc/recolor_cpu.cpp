#include "recolor_cpu.h"

#include <algorithm>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "colorist/pixel_math.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define COLORIST_AVX2_PATH 1
#else
#define COLORIST_AVX2_PATH 0
#endif

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
// Pixels per tile. A tile whose alphas are all 0 is copied; any other tile is converted
// densely, all its pixels at once (alpha 0 blends back to the original byte exactly), as
// structure-of-arrays loops without branches, gathers or scatters, which GCC vectorises.
// Small enough that little work is spent on unmasked pixels at a mask's edge.
constexpr int kTile = 32;

struct Tile {
  int n = 0;
  int alpha[kTile];
  int r0[kTile], g0[kTile], b0[kTile];  // the original pixel
  float h[kTile], s[kTile], v[kTile];
  float sv[kTile];  // s * v / 255, the hue reliability's input (variant-independent)
  float L[kTile], A[kTile], B[kTile];  // CIELAB, only when some row needs it
  // the variant-independent part of the alpha blend: a, and orig * (255 - a) + 127.5
  float a_f[kTile], base_r[kTile], base_g[kTile], base_b[kTile];
  float r[kTile], g[kTile], b[kTile];
  u8 out[3 * kTile + 4];  // one variant's blended pixels, interleaved (+4: 16-byte stores)
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

// The tile loops are vectorised (SSE2 baseline), and cloned for AVX2 where the compiler
// supports function multiversioning (chosen at load time by the CPU, so one wheel runs
// everywhere).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define COLORIST_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define COLORIST_SIMD_CLONES
#endif

// Loads a tile: the original bytes, alpha, and the HSV (and CIELAB) of every pixel.
COLORIST_SIMD_CLONES void load_tile(Tile& t, const u8* rgb, const u8* alpha, int n,
                                    bool need_lab) {
  t.n = n;
  for (int i = 0; i < n; ++i) {
    t.r0[i] = rgb[3 * i];
    t.g0[i] = rgb[3 * i + 1];
    t.b0[i] = rgb[3 * i + 2];
    t.alpha[i] = alpha[i];
  }
  for (int i = 0; i < n; ++i) {
    const int keep = 255 - t.alpha[i];
    t.a_f[i] = (float)t.alpha[i];
    t.base_r[i] = (float)(t.r0[i] * keep) + 127.5f;
    t.base_g[i] = (float)(t.g0[i] * keep) + 127.5f;
    t.base_b[i] = (float)(t.b0[i] * keep) + 127.5f;
  }
  for (int i = 0; i < n; ++i) {
    int h, s, v;
    rgb_to_hsv_u8(t.r0[i], t.g0[i], t.b0[i], &h, &s, &v);
    t.h[i] = (float)h;
    t.s[i] = (float)s;
    t.v[i] = (float)v;
    t.sv[i] = (t.s[i] * t.v[i]) * (1.f / 255.f);  // as hue_reliability computes it
  }
  for (int i = n; i < kTile; ++i) {  // defined lanes past the end for the 8-wide loops
    t.h[i] = t.s[i] = t.v[i] = t.sv[i] = 0.f;
    t.a_f[i] = t.base_r[i] = t.base_g[i] = t.base_b[i] = 0.f;
  }
  if (need_lab) {
    const float* lin = linear_lut().v;
    for (int i = 0; i < n; ++i) {  // scalar (cbrtf): pixels with alpha 0 need no Lab
      if (t.alpha[i] == 0) continue;
      linear_rgb_to_lab_f(lin[t.r0[i]], lin[t.g0[i]], lin[t.b0[i]], &t.L[i], &t.A[i], &t.B[i]);
    }
  }
}

// The alpha blend of one channel in float, equal to blend_u8's integer rule: with rec the
// rounded byte, m = orig * (255 - a) + rec * a + 127.5 is exact (an integer + 0.5 below
// 2^16), its quotient by 255 lies at least 0.5 / 255 from an integer, so truncating
// m * (1 / 255) gives floor((m - 0.5) / 255) for every input (checked exhaustively by
// tests/test_native.py over all orig, rec, alpha).
COLORIST_HD u8 blend_channel(float x, float a, float base) {
  const float rec = round_half_even(clampf(x * 255.f, 0.f, 255.f));
  return (u8)(int)((rec * a + base) * (1.f / 255.f));
}

// Rounds, blends by alpha and interleaves one variant's t.r, t.g, t.b into t.out.
COLORIST_SIMD_CLONES void blend_tile(Tile& t) {
  for (int i = 0; i < t.n; ++i) {
    t.out[3 * i] = blend_channel(t.r[i], t.a_f[i], t.base_r[i]);
    t.out[3 * i + 1] = blend_channel(t.g[i], t.a_f[i], t.base_g[i]);
    t.out[3 * i + 2] = blend_channel(t.b[i], t.a_f[i], t.base_b[i]);
  }
}

// One HSV variant of a tile: recolor_hsv_f per pixel (the portable path; GCC vectorises
// it, but its selects and clamps become compare-and-blend chains).
COLORIST_SIMD_CLONES void recolor_tile_hsv_portable(Tile& t, const float* p) {
  for (int i = 0; i < t.n; ++i) {
    recolor_hsv_f(t.h[i], t.s[i], t.v[i], p, &t.r[i], &t.g[i], &t.b[i]);
  }
}

#if COLORIST_AVX2_PATH
#define COLORIST_AVX2 __attribute__((target("avx2")))
#define COLORIST_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

COLORIST_AVX2_INLINE __m256 wrap_below(__m256 x, __m256 lo, __m256 step) {  // x < lo: + step
  return _mm256_add_ps(x, _mm256_and_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), step));
}

COLORIST_AVX2_INLINE __m256 wrap_above(__m256 x, __m256 hi, __m256 step) {  // x >= hi: - step
  return _mm256_sub_ps(x, _mm256_and_ps(_mm256_cmp_ps(x, hi, _CMP_GE_OQ), step));
}

COLORIST_AVX2_INLINE __m256 clamp8(__m256 x, __m256 lo, __m256 hi) {
  return _mm256_min_ps(_mm256_max_ps(x, lo), hi);
}

COLORIST_AVX2_INLINE __m256 sector_is(__m256 sector, float k) {
  return _mm256_cmp_ps(sector, _mm256_set1_ps(k), _CMP_EQ_OQ);
}

// recolor_hsv_f eight pixels at a time in AVX2, the same IEEE operations in the same order
// (no FMA), so every float equals the portable path's (tests/test_native.py compares the
// two over the whole HSV cube). Clamps are MAXPS/MINPS (equal for non-NaN inputs, up to
// the sign of a zero, which no output byte can tell); the hue wraps are masked adds.
COLORIST_AVX2 void recolor_tile_hsv_avx2(Tile& t, const float* p) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.f);
  const __m256 c180 = _mm256_set1_ps(180.f), c90 = _mm256_set1_ps(90.f);
  const __m256 cm90 = _mm256_set1_ps(-90.f), c255 = _mm256_set1_ps(255.f);
  const __m256 inv255 = _mm256_set1_ps(1.f / 255.f), six = _mm256_set1_ps(6.f);
  const __m256 src_lo = _mm256_set1_ps(p[P_SRC_LO]), src_w = _mm256_set1_ps(p[P_SRC_W]);
  const __m256 tgt_lo = _mm256_set1_ps(p[P_TGT_LO]);
  const __m256 tgt_end = _mm256_set1_ps(p[P_TGT_LO] + p[P_TGT_W]);
  const __m256 ratio_in = _mm256_set1_ps(p[P_RATIO_IN]);
  const __m256 ratio_out = _mm256_set1_ps(p[P_RATIO_OUT]);
  const __m256 rel_lo = _mm256_set1_ps(p[P_REL_LO]), rel_inv = _mm256_set1_ps(p[P_REL_INV]);
  const __m256 tgt_hc = _mm256_set1_ps(p[P_TGT_HC]), s_tc = _mm256_set1_ps(p[P_S_TC]);
  const __m256 s_mul = _mm256_set1_ps(p[P_S_MUL]), s_add = _mm256_set1_ps(p[P_S_ADD]);
  const __m256 v_mul = _mm256_set1_ps(p[P_V_MUL]), v_add = _mm256_set1_ps(p[P_V_ADD]);
  const bool keep_hue = p[P_SRC_W] <= 0.f;  // map_hue's width-0 case, one per row
  // The chain from h to r, g, b is long; unrolled, independent groups of 8 overlap.
#pragma GCC unroll 4
  for (int i = 0; i < t.n; i += 8) {
    const __m256 h = _mm256_loadu_ps(t.h + i), s = _mm256_loadu_ps(t.s + i);
    const __m256 v = _mm256_loadu_ps(t.v + i), sv = _mm256_loadu_ps(t.sv + i);
    const __m256 rel = clamp8(_mm256_mul_ps(_mm256_sub_ps(sv, rel_lo), rel_inv), zero, one);
    const __m256 unrel = _mm256_sub_ps(one, rel);
    // map_hue
    __m256 hm = h;
    if (!keep_hue) {
      __m256 u = wrap_above(wrap_below(_mm256_sub_ps(h, src_lo), zero, c180), c180, c180);
      const __m256 inside = _mm256_add_ps(tgt_lo, _mm256_mul_ps(u, ratio_in));
      const __m256 outside =
          _mm256_add_ps(tgt_end, _mm256_mul_ps(_mm256_sub_ps(u, src_w), ratio_out));
      hm = _mm256_blendv_ps(outside, inside, _mm256_cmp_ps(u, src_w, _CMP_LE_OQ));
      hm = wrap_above(hm, c180, c180);
    }
    // toward_target_hue
    __m256 d = _mm256_sub_ps(tgt_hc, hm);
    d = wrap_below(wrap_above(d, c90, c180), cm90, c180);
    __m256 h2 = _mm256_add_ps(hm, _mm256_mul_ps(unrel, d));
    h2 = wrap_above(wrap_below(h2, zero, c180), c180, c180);
    // S and V
    __m256 s2 = clamp8(_mm256_add_ps(_mm256_mul_ps(s, s_mul), s_add), zero, c255);
    s2 = _mm256_add_ps(s2, _mm256_mul_ps(unrel, _mm256_sub_ps(s_tc, s2)));
    const __m256 v2 = clamp8(_mm256_add_ps(_mm256_mul_ps(v, v_mul), v_add), zero, c255);
    const __m256 sf = _mm256_mul_ps(s2, inv255), vf = _mm256_mul_ps(v2, inv255);
    // hsv_to_rgb_f
    __m256 hh = _mm256_mul_ps(_mm256_mul_ps(h2, _mm256_set1_ps(2.f)),
                              _mm256_set1_ps(6.f / 360.f));
    __m256 sector = _mm256_round_ps(hh, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    hh = _mm256_sub_ps(hh, sector);
    const __m256 good = _mm256_andnot_ps(_mm256_cmp_ps(sector, zero, _CMP_LT_OQ),
                                         _mm256_cmp_ps(sector, six, _CMP_LT_OQ));
    sector = _mm256_and_ps(sector, good);
    hh = _mm256_and_ps(hh, good);
    const __m256 t1 = _mm256_mul_ps(vf, _mm256_sub_ps(one, sf));
    const __m256 t2 = _mm256_mul_ps(vf, _mm256_sub_ps(one, _mm256_mul_ps(sf, hh)));
    const __m256 t3 =
        _mm256_mul_ps(vf, _mm256_sub_ps(one, _mm256_mul_ps(sf, _mm256_sub_ps(one, hh))));
    const __m256 e0 = sector_is(sector, 0.f), e1 = sector_is(sector, 1.f);
    const __m256 e2 = sector_is(sector, 2.f), e3 = sector_is(sector, 3.f);
    const __m256 e4 = sector_is(sector, 4.f), e5 = sector_is(sector, 5.f);
    // OpenCV's sector table, as in hsv_to_rgb_f: r = v in 0, 5; t2 in 1; t3 in 4
    __m256 r = _mm256_blendv_ps(t1, t2, e1);
    r = _mm256_blendv_ps(r, t3, e4);
    r = _mm256_blendv_ps(r, vf, _mm256_or_ps(e0, e5));
    __m256 g = _mm256_blendv_ps(t1, t3, e0);  // g = t3 in 0, t2 in 3, v in 1, 2
    g = _mm256_blendv_ps(g, t2, e3);
    g = _mm256_blendv_ps(g, vf, _mm256_or_ps(e1, e2));
    __m256 b = _mm256_blendv_ps(t1, t3, e2);  // b = t3 in 2, t2 in 5, v in 3, 4
    b = _mm256_blendv_ps(b, t2, e5);
    b = _mm256_blendv_ps(b, vf, _mm256_or_ps(e3, e4));
    _mm256_storeu_ps(t.r + i, r);
    _mm256_storeu_ps(t.g + i, g);
    _mm256_storeu_ps(t.b + i, b);
  }
}

// blend_tile eight pixels at a time: blend_channel's operations per channel, the three
// bytes packed into one 32-bit lane (r | g << 8 | b << 16) and each 128-bit half's four
// pixels compacted to 12 bytes with one shuffle.
COLORIST_AVX2 void blend_tile_avx2(Tile& t) {
  const __m256 zero = _mm256_setzero_ps(), c255 = _mm256_set1_ps(255.f);
  const __m256 inv255 = _mm256_set1_ps(1.f / 255.f);
  const __m128i compact = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  for (int i = 0; i < t.n; i += 8) {
    const __m256 a = _mm256_loadu_ps(t.a_f + i);
    auto channel = [&](const float* x, const float* base) COLORIST_AVX2 {
      __m256 rec = clamp8(_mm256_mul_ps(_mm256_loadu_ps(x + i), c255), zero, c255);
      rec = _mm256_round_ps(rec, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      const __m256 m = _mm256_add_ps(_mm256_mul_ps(rec, a), _mm256_loadu_ps(base + i));
      return _mm256_cvttps_epi32(_mm256_mul_ps(m, inv255));
    };
    const __m256i px = _mm256_or_si256(
        channel(t.r, t.base_r),
        _mm256_or_si256(_mm256_slli_epi32(channel(t.g, t.base_g), 8),
                        _mm256_slli_epi32(channel(t.b, t.base_b), 16)));
    u8* o = t.out + 3 * i;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o),
                     _mm_shuffle_epi8(_mm256_castsi256_si128(px), compact));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 12),
                     _mm_shuffle_epi8(_mm256_extracti128_si256(px, 1), compact));
  }
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// Which HSV variant loop runs: the explicit AVX2 one where the CPU has it, else the
// portable one; set_simd(false) forces the portable one (tests compare the two).
bool g_use_simd = true;

void recolor_tile_hsv(Tile& t, const float* p) {
#if COLORIST_AVX2_PATH
  if (g_use_simd && cpu_has_avx2()) {
    recolor_tile_hsv_avx2(t, p);
    blend_tile_avx2(t);
    return;
  }
#endif
  recolor_tile_hsv_portable(t, p);
  blend_tile(t);
}

// One CIELAB (or copy) variant of a tile into t.out: the shared per-pixel path. It is
// scalar (powf, cbrtf), so pixels with alpha 0 take a branch to their original bytes (what
// the blend would give them) instead of the conversion.
void recolor_tile_pixels(Tile& t, const float* p) {
  for (int i = 0; i < t.n; ++i) {
    if (t.alpha[i] == 0) {
      t.out[3 * i] = (u8)t.r0[i];
      t.out[3 * i + 1] = (u8)t.g0[i];
      t.out[3 * i + 2] = (u8)t.b0[i];
      continue;
    }
    PixelColor c;  // the pixel's Lab, computed once in load_tile for all K variants
    c.h = (int)t.h[i];
    c.s = (int)t.s[i];
    c.v = (int)t.v[i];
    c.L = t.L[i];
    c.A = t.A[i];
    c.B = t.B[i];
    recolor_blend_pixel(c, (u8)t.r0[i], (u8)t.g0[i], (u8)t.b0[i], t.alpha[i], p,
                        t.out + 3 * i);
  }
}

// True when every alpha in [a, a + n) is 0 (an OR over the bytes: vectorised).
bool all_zero(const u8* a, std::int64_t n) {
  unsigned any = 0;
  for (std::int64_t i = 0; i < n; ++i) any |= a[i];
  return any == 0;
}

void recolor_range(const ImageJob& job, int k, std::int64_t begin, std::int64_t end) {
  // A local copy of the rows: the compiler may then keep them in registers, which it
  // cannot do through job.params (the uint8 output could alias them).
  float params[kMaxVariants * COLORIST_PARAMS];
  std::memcpy(params, job.params, sizeof(float) * k * COLORIST_PARAMS);
  const bool need_lab = any_lab(params, k);
  const std::int64_t plane = job.npixels * 3;
  Tile tile;
  std::int64_t copy_from = begin;  // start of the pending run of untouched tiles
  auto flush_copy = [&](std::int64_t upto) {
    if (upto > copy_from) {
      for (int v = 0; v < k; ++v) {
        std::memcpy(job.out + v * plane + 3 * copy_from, job.rgb + 3 * copy_from,
                    3 * (upto - copy_from));
      }
    }
  };
  for (std::int64_t i = begin; i < end; i += kTile) {
    const int n = static_cast<int>(std::min<std::int64_t>(kTile, end - i));
    if (all_zero(job.alpha + i, n)) continue;  // joins the pending copy run
    flush_copy(i);
    copy_from = i + n;
    load_tile(tile, job.rgb + 3 * i, job.alpha + i, n, need_lab);
    for (int var = 0; var < k; ++var) {
      const float* p = params + var * COLORIST_PARAMS;
      if (p[P_MODE] == (float)MODE_HSV) {
        recolor_tile_hsv(tile, p);
      } else {
        recolor_tile_pixels(tile, p);
      }
      std::memcpy(job.out + var * plane + 3 * i, tile.out, 3 * n);
    }
  }
  flush_copy(end);
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

const char* simd_path() {
#if COLORIST_AVX2_PATH
  if (g_use_simd && cpu_has_avx2()) return "avx2";
#endif
  return "portable";
}

const char* set_simd(bool enabled) {
  g_use_simd = enabled;
  return simd_path();
}

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
