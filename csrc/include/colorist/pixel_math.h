// Per-pixel recolouring math shared by every native backend.
//
// This header is compiled three ways: by g++ for the CPU extension (csrc/), by nvcc for the
// compile-only check, and by NVRTC (CuPy RawModule) for the CUDA kernel (kernels/). It
// therefore uses only plain C types and the C math functions that CUDA device code also
// has (no <cstdint>, no std::).
//
// Units follow OpenCV's 8-bit HSV: H in [0, 180), S and V in [0, 255]. CIELAB uses
// L in [0, 100] and a*, b* unbounded (sRGB primaries, D65 white), as in the CIE formulas.
//
// A recolouring is described by one row of COLORIST_PARAMS floats (see RecolorParam in
// param_layout.h). The Python side (colorist/recolor/plan.py) builds the rows; the numpy
// reference (colorist/recolor/reference.py) is the oracle these functions are tested
// against. A recoloured pixel is blended with the original by the pre-pass's alpha in
// integers: (orig * (255 - a) + recoloured * a + 127) / 255.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define COLORIST_HD __host__ __device__ __forceinline__
#define COLORIST_CONSTEXPR_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#define COLORIST_HD inline
#define COLORIST_CONSTEXPR_HD constexpr
#endif

// The layout of one parameter row (P_* indices, COLORIST_PARAMS) and the modes are generated
// from colorist/recolor/plan.py (PARAM_FIELDS), the one definition of the table.
#include "param_layout.h"

namespace colorist {

typedef unsigned char u8;

// Ternaries, not fminf/fmaxf: those are libm calls on the host (NaN rules), and no NaN
// reaches here. On the device fminf/fmaxf are one FMNMX each, the ternaries three
// instructions a clamp (a -0 result may become +0: no output byte can tell).
COLORIST_HD float clampf(float x, float lo, float hi) {
#if defined(__CUDA_ARCH__)
  return fminf(fmaxf(x, lo), hi);
#else
  return x < lo ? lo : (x > hi ? hi : x);
#endif
}

// Round half to even, as np.rint. On the host, adding and subtracting 1.5 * 2^23 rounds in
// the FPU's default mode without a libm call (baseline x86-64 has no SSE4.1 roundss);
// exact for |x| < 2^22, which covers the 0..255 values rounded here.
COLORIST_HD float round_half_even(float x) {
#if defined(__CUDA_ARCH__)
  return rintf(x);
#else
  const float magic = 12582912.f;  // not folded: without -ffast-math no reassociation
  return (x + magic) - magic;
#endif
}

// ---- device arithmetic ---------------------------------------------------------------
//
// On the GPU, conversions (I2F, F2I, FRND) issue at 16 a clock per SM on sm_80..sm_90
// against 128 FP32 instructions, and an integer division by a variable is a sequence of
// ~20. COLORIST_DEVICE_MATH selects exact replacements made of full-rate FP32 and integer
// instructions for the few places that convert or divide. The host (the CPU extension)
// keeps its own code; tests compile the device variants on the host as well
// (COLORIST_DEVICE_MATH_ON_HOST) and compare them with it over every input they take.
#if defined(__CUDA_ARCH__) || defined(COLORIST_DEVICE_MATH_ON_HOST)
#define COLORIST_DEVICE_MATH 1
#else
#define COLORIST_DEVICE_MATH 0
#endif

// The helpers are compiled everywhere (nvcc's host pass parses device code too); only the
// COLORIST_DEVICE_MATH switches below use them.
COLORIST_HD unsigned float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  unsigned u;
  __builtin_memcpy(&u, &x, sizeof u);
  return u;
#endif
}

COLORIST_HD float bits_float(unsigned u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  __builtin_memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// n in [0, 2^23) as a float: the exponent of 2^23 or-ed onto n, minus 2^23 (exact).
COLORIST_HD float small_to_float(unsigned n) { return bits_float(0x4B000000u | n) - 8388608.f; }

// Nearest integer (ties to even) of x, |x| < 2^22: x + 1.5 * 2^23 has an ulp of 1, so its
// low mantissa bits are the rounded value. __fadd_rn: never contracted into an FMA.
COLORIST_HD int rint_to_int(float x) {
#if defined(__CUDA_ARCH__)
  const float t = __fadd_rn(x, 12582912.f);
#else
  const float t = x + 12582912.f;
#endif
  return (int)(float_bits(t) - 0x4B400000u);
}

// floor(x) for x in [0, 2^23): x + 2^23 rounded toward zero has an ulp of 1.
COLORIST_HD float floor_nonneg(float x) {
#if defined(__CUDA_ARCH__)
  return __fadd_rz(x, 8388608.f) - 8388608.f;
#else
  const double sum = (double)x + 8388608.0;  // exact
  float t = (float)sum;                       // to nearest, then back toward zero
  if ((double)t > sum) t = nextafterf(t, 0.f);
  return t - 8388608.f;
#endif
}

// 1 / x to within 1 ulp (MUFU.RCP; the host's correctly rounded quotient is one of its
// possible answers).
COLORIST_HD float rcp_approx(float x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#else
  return 1.f / x;
#endif
}

// round(c / i) for c < 2^21 and 0 < i < 256 (never a tie: OpenCV's table entries), as
// floor((2c + i) / 2i) exactly: the float estimate is within 0.4 of c / i (rcp and product
// errors, relative 3e-7 of at most 2^21), so its nearest integer is off by at most one,
// and the remainder of the exact integer division tells which way.
COLORIST_HD int div_round(int c, int i) {
  int q = rint_to_int((float)c * rcp_approx(small_to_float((unsigned)i)));
  const int rem = 2 * c + i - 2 * q * i;  // in [0, 2i) exactly when q is right
  q += rem >= 2 * i ? 1 : 0;
  q -= rem < 0 ? 1 : 0;
  return q;
}

// unit_to_u8 without the conversions, as an int in [0, 255] (a byte insert needs no
// masking): clamping to [0, 255] before or after rounding to an integer gives the same
// integer (the bounds are integers).
COLORIST_HD int unit_to_int(float x) { return rint_to_int(clampf(x * 255.f, 0.f, 255.f)); }

// blend_u8 in unsigned arithmetic, as an int in [0, 255]: m <= 255 * 255 + 127 < 2^16, and
// m / 255 == (m * 0x8081) >> 23 for every m < 2^16 (one multiply and a shift).
COLORIST_HD int blend_int(int orig, int rec, int a) {
  const unsigned m = (unsigned)orig * (255u - a) + (unsigned)rec * a + 127u;
  return (int)((m * 0x8081u) >> 23);
}

// Float in [0, 1] -> uint8 with round-half-to-even.
COLORIST_HD u8 unit_to_u8(float x) {
#if COLORIST_DEVICE_MATH
  return (u8)unit_to_int(x);
#else
  return (u8)clampf(round_half_even(x * 255.f), 0.f, 255.f);
#endif
}

// OpenCV's division tables: round((255 << 12) / i) and round((180 << 12) / (6 * i)),
// in integer arithmetic (neither quotient can be a tie, so the rounding matches).
COLORIST_CONSTEXPR_HD int sdiv_entry(int i) { return i ? (2 * (255 << 12) + i) / (2 * i) : 0; }
COLORIST_CONSTEXPR_HD int hdiv_entry(int i) { return i ? (2 * 122880 + i) / (2 * i) : 0; }

#if COLORIST_DEVICE_MATH
// Device code computes the entries with div_round: a table would cost a memory access a
// lookup, and a block-wide barrier to fill it.
#define COLORIST_SDIV(i) div_round(255 << 12, (i) > 1 ? (i) : 1)
#define COLORIST_HDIV(i) div_round(30 << 12, (i) > 1 ? (i) : 1)
#elif !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
// On the host the tables are built at compile time (two divisions a pixel cost more than
// the rest of the conversion).
struct DivTables {
  int sdiv[256], hdiv[256];
  constexpr DivTables() : sdiv(), hdiv() {
    for (int i = 0; i < 256; ++i) {
      sdiv[i] = sdiv_entry(i);
      hdiv[i] = hdiv_entry(i);
    }
  }
};
inline constexpr DivTables kDivTables{};
#define COLORIST_SDIV(i) (kDivTables.sdiv[i])
#define COLORIST_HDIV(i) (kDivTables.hdiv[i])
#else  // nvcc's host pass of device code (never run)
#define COLORIST_SDIV(i) sdiv_entry(i)
#define COLORIST_HDIV(i) hdiv_entry(i)
#endif

// OpenCV's exact integer RGB -> HSV for 8-bit images (cv::COLOR_RGB2HSV). Where vmax or
// diff is 0 the device's entry for 1 stands in for the table's 0: it is multiplied by
// diff = 0 (and hh = 0 when diff = 0), so the result is the same.
COLORIST_HD void rgb_to_hsv_u8(int r, int g, int b, int* h, int* s, int* v) {
  int vmax = r > g ? (r > b ? r : b) : (g > b ? g : b);
  int vmin = r < g ? (r < b ? r : b) : (g < b ? g : b);
  int diff = vmax - vmin;
  int sdiv = COLORIST_SDIV(vmax);
  int hdiv = COLORIST_HDIV(diff);
  int hh;
  if (vmax == r) {  // ties resolve r, then g, as in OpenCV
    hh = g - b;
  } else if (vmax == g) {
    hh = b - r + 2 * diff;
  } else {
    hh = r - g + 4 * diff;
  }
  hh = (hh * hdiv + (1 << 11)) >> 12;
  *h = hh < 0 ? hh + 180 : hh;
  *s = (diff * sdiv + (1 << 11)) >> 12;
  *v = vmax;
}

// OpenCV's float HSV -> RGB (HSV2RGB_native) with H in OpenCV units [0, 180), written
// as straight-line selects on a float sector so that GCC vectorises loops over pixels
// (with -fno-trapping-math; integer-sector ternary chains stay branches). OpenCV's s == 0
// case needs no branch: then t1 == t2 == t3 == v exactly.
COLORIST_HD void hsv_to_rgb_f(float h180, float s, float v, float* r, float* g, float* b) {
  float h = (h180 * 2.f) * (6.f / 360.f);
#if COLORIST_DEVICE_MATH
  float sector = floor_nonneg(h);  // h >= 0
#else
  float sector = (float)(int)h;  // h >= 0: truncation is floor
#endif
  h -= sector;
  bool bad = (sector < 0.f) | (sector >= 6.f);
  sector = bad ? 0.f : sector;
  h = bad ? 0.f : h;
  float t1 = v * (1.f - s), t2 = v * (1.f - s * h), t3 = v * (1.f - s * (1.f - h));
  // OpenCV's sector_data table {{1,3,0}, {1,0,2}, {3,0,1}, {0,2,1}, {0,1,3}, {2,1,0}} (b,g,r)
  float rr = t1, gg = t1, bb = t1;
  rr = sector == 1.f ? t2 : rr;
  rr = sector == 4.f ? t3 : rr;
  rr = sector == 0.f ? v : rr;
  rr = sector == 5.f ? v : rr;
  gg = sector == 0.f ? t3 : gg;
  gg = sector == 3.f ? t2 : gg;
  gg = sector == 1.f ? v : gg;
  gg = sector == 2.f ? v : gg;
  bb = sector == 2.f ? t3 : bb;
  bb = sector == 5.f ? t2 : bb;
  bb = sector == 3.f ? v : bb;
  bb = sector == 4.f ? v : bb;
  *r = rr;
  *g = gg;
  *b = bb;
}

// Piecewise-linear circle map: the source arc [lo, lo + w) goes linearly onto the target
// arc, and the rest of the circle goes linearly onto the rest of the circle. The map is
// continuous and monotone, so hues outside the source arc neither wrap nor collapse.
COLORIST_HD float map_hue(float h, const float* p) {
  float src_w = p[P_SRC_W], tgt_w = p[P_TGT_W];
  float u = h - p[P_SRC_LO];
  u = u < 0.f ? u + 180.f : u;
  u = u >= 180.f ? u - 180.f : u;
  float inside = p[P_TGT_LO] + u * p[P_RATIO_IN];
  float outside = p[P_TGT_LO] + tgt_w + (u - src_w) * p[P_RATIO_OUT];
  float y = u <= src_w ? inside : outside;
  y = y >= 180.f ? y - 180.f : y;
  return src_w <= 0.f ? h : y;  // width 0: keep the hue (a select, not a branch)
}

// ---- CIELAB (sRGB, D65), exact CIE formulas -------------------------------------------

COLORIST_HD float srgb_to_linear(float c) {
  return c <= 0.04045f ? c * (1.f / 12.92f) : powf((c + 0.055f) * (1.f / 1.055f), 2.4f);
}

COLORIST_HD float linear_to_srgb(float c) {
  return c <= 0.0031308f ? c * 12.92f : 1.055f * powf(c, 1.f / 2.4f) - 0.055f;
}

COLORIST_HD float lab_f(float t) { return t > 0.008856f ? cbrtf(t) : 7.787f * t + 16.f / 116.f; }

COLORIST_HD float lab_finv(float f) {
  float f3 = f * f * f;
  return f3 > 0.008856f ? f3 : (f - 16.f / 116.f) * (1.f / 7.787f);
}

// Linear RGB in [0, 1] -> L in [0, 100], a*, b*.
COLORIST_HD void linear_rgb_to_lab_f(float r, float g, float b, float* L, float* A, float* B) {
  float x = (0.412453f * r + 0.357580f * g + 0.180423f * b) * (1.f / 0.950456f);
  float y = 0.212671f * r + 0.715160f * g + 0.072169f * b;
  float z = (0.019334f * r + 0.119193f * g + 0.950227f * b) * (1.f / 1.088754f);
  float fy = lab_f(y);
  *L = y > 0.008856f ? 116.f * fy - 16.f : 903.3f * y;
  *A = 500.f * (lab_f(x) - fy);
  *B = 200.f * (fy - lab_f(z));
}

// RGB in [0, 1] (gamma-encoded sRGB) -> L in [0, 100], a*, b*.
COLORIST_HD void rgb_to_lab_f(float r, float g, float b, float* L, float* A, float* B) {
  linear_rgb_to_lab_f(srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), L, A, B);
}

// L, a*, b* -> RGB in [0, 1], clipped to the sRGB gamut per channel.
COLORIST_HD void lab_to_rgb_f(float L, float A, float B, float* r, float* g, float* b) {
  float fy = (L + 16.f) * (1.f / 116.f);
  float y = L > 7.9996248f ? fy * fy * fy : L * (1.f / 903.3f);
  float x = lab_finv(fy + A * (1.f / 500.f)) * 0.950456f;
  float z = lab_finv(fy - B * (1.f / 200.f)) * 1.088754f;
  float lr = 3.240479f * x - 1.537150f * y - 0.498535f * z;
  float lg = -0.969256f * x + 1.875991f * y + 0.041556f * z;
  float lb = 0.055648f * x - 0.204043f * y + 1.057311f * z;
  *r = linear_to_srgb(clampf(lr, 0.f, 1.f));
  *g = linear_to_srgb(clampf(lg, 0.f, 1.f));
  *b = linear_to_srgb(clampf(lb, 0.f, 1.f));
}

// ---- one pixel, one variant ----------------------------------------------------------

// What one read of a pixel gives every variant: its HSV and, when some variant needs it,
// its CIELAB.
struct PixelColor {
  int h, s, v;
  float L, A, B;
};

COLORIST_HD void load_pixel(u8 r, u8 g, u8 b, bool need_lab, PixelColor* c) {
  rgb_to_hsv_u8(r, g, b, &c->h, &c->s, &c->v);
  if (need_lab) {
    rgb_to_lab_f(r * (1.f / 255.f), g * (1.f / 255.f), b * (1.f / 255.f), &c->L, &c->A, &c->B);
  }
}

// True when any of the k rows is a CIELAB row (the pixel then needs its Lab once).
COLORIST_HD bool any_lab(const float* params, int k) {
  for (int i = 0; i < k; ++i) {
    if (params[i * COLORIST_PARAMS + P_MODE] == (float)MODE_LAB) return true;
  }
  return false;
}

// How far a pixel's hue can be trusted: 0 where S * V is noise-level, 1 where it is clear.
COLORIST_HD float hue_reliability(float s, float v, const float* p) {
  float sv = (s * v) * (1.f / 255.f);
  return clampf((sv - p[P_REL_LO]) * p[P_REL_INV], 0.f, 1.f);
}

// h moved by (1 - r) of the signed circular step towards the target hue centre.
COLORIST_HD float toward_target_hue(float h, float r, const float* p) {
  float d = p[P_TGT_HC] - h;
  d = d >= 90.f ? d - 180.f : d;
  d = d < -90.f ? d + 180.f : d;
  float y = h + (1.f - r) * d;
  y = y < 0.f ? y + 180.f : y;
  return y >= 180.f ? y - 180.f : y;
}

// HSV-mode recolouring of one pixel (H, S, V in OpenCV units) to RGB in [0, 1].
COLORIST_HD void recolor_hsv_f(float h, float s, float v, const float* p, float* r, float* g,
                               float* b) {
  float rel = hue_reliability(s, v, p);
  float h2 = toward_target_hue(map_hue(h, p), rel, p);
  float s2 = clampf(s * p[P_S_MUL] + p[P_S_ADD], 0.f, 255.f);
  s2 = s2 + (1.f - rel) * (p[P_S_TC] - s2);
  float v2 = clampf(v * p[P_V_MUL] + p[P_V_ADD], 0.f, 255.f);
  hsv_to_rgb_f(h2, s2 * (1.f / 255.f), v2 * (1.f / 255.f), r, g, b);
}

// CIELAB-mode recolouring of one pixel (L, a*, b*) to RGB in [0, 1].
COLORIST_HD void recolor_lab_f(float L, float A, float B, const float* p, float* r, float* g,
                               float* b) {
  float L2 = clampf(L * p[P_L_MUL] + p[P_L_ADD], 0.f, 100.f);
  float A2 = A + p[P_AB_MIX] * (p[P_A_TGT] - A);
  float B2 = B + p[P_AB_MIX] * (p[P_B_TGT] - B);
  lab_to_rgb_f(L2, A2, B2, r, g, b);
}

// (orig * (255 - a) + rec * a + 127) / 255 in integers: every backend's one rounding rule.
COLORIST_HD u8 blend_u8(int orig, int rec, int a) {
#if COLORIST_DEVICE_MATH
  return (u8)blend_int(orig, rec, a);
#else
  return (u8)((orig * (255 - a) + rec * a + 127) / 255);
#endif
}

// Writes the recoloured RGB of pixel `c` (original RGB r, g, b) for parameter row `p`,
// before the alpha blend.
COLORIST_HD void recolor_pixel(const PixelColor& c, u8 r, u8 g, u8 b, const float* p, u8* out) {
  float mode = p[P_MODE];
  float fr, fg, fb;
  if (mode == (float)MODE_COPY) {
    out[0] = r;
    out[1] = g;
    out[2] = b;
    return;
  }
  if (mode == (float)MODE_LAB) {
    recolor_lab_f(c.L, c.A, c.B, p, &fr, &fg, &fb);
  } else {
    recolor_hsv_f((float)c.h, (float)c.s, (float)c.v, p, &fr, &fg, &fb);
  }
  out[0] = unit_to_u8(fr);
  out[1] = unit_to_u8(fg);
  out[2] = unit_to_u8(fb);
}

// recolor_pixel, then the alpha blend with the original pixel.
COLORIST_HD void recolor_blend_pixel(const PixelColor& c, u8 r, u8 g, u8 b, int alpha,
                                     const float* p, u8* out) {
  u8 rec[3];
  recolor_pixel(c, r, g, b, p, rec);
  out[0] = blend_u8(r, rec[0], alpha);
  out[1] = blend_u8(g, rec[1], alpha);
  out[2] = blend_u8(b, rec[2], alpha);
}

}  // namespace colorist
