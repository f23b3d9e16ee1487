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
// reaches here.
COLORIST_HD float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

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

// Float in [0, 1] -> uint8 with round-half-to-even.
COLORIST_HD u8 unit_to_u8(float x) { return (u8)clampf(round_half_even(x * 255.f), 0.f, 255.f); }

// OpenCV's division tables: round((255 << 12) / i) and round((180 << 12) / (6 * i)),
// in integer arithmetic (neither quotient can be a tie, so the rounding matches).
COLORIST_CONSTEXPR_HD int sdiv_entry(int i) { return i ? (2 * (255 << 12) + i) / (2 * i) : 0; }
COLORIST_CONSTEXPR_HD int hdiv_entry(int i) { return i ? (2 * 122880 + i) / (2 * i) : 0; }

#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
// On the host the tables are built at compile time (two divisions a pixel cost more than
// the rest of the conversion); device code divides, tables would cost memory traffic.
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
#else
#define COLORIST_SDIV(i) sdiv_entry(i)
#define COLORIST_HDIV(i) hdiv_entry(i)
#endif

// OpenCV's exact integer RGB -> HSV for 8-bit images (cv::COLOR_RGB2HSV).
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
  float sector = (float)(int)h;  // h >= 0: truncation is floor
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

// RGB in [0, 1] (gamma-encoded sRGB) -> L in [0, 100], a*, b*.
COLORIST_HD void rgb_to_lab_f(float r, float g, float b, float* L, float* A, float* B) {
  r = srgb_to_linear(r);
  g = srgb_to_linear(g);
  b = srgb_to_linear(b);
  float x = (0.412453f * r + 0.357580f * g + 0.180423f * b) * (1.f / 0.950456f);
  float y = 0.212671f * r + 0.715160f * g + 0.072169f * b;
  float z = (0.019334f * r + 0.119193f * g + 0.950227f * b) * (1.f / 1.088754f);
  float fy = lab_f(y);
  *L = y > 0.008856f ? 116.f * fy - 16.f : 903.3f * y;
  *A = 500.f * (lab_f(x) - fy);
  *B = 200.f * (fy - lab_f(z));
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

// (orig * (255 - a) + rec * a + 127) / 255 in integers: every backend's one rounding rule.
COLORIST_HD u8 blend_u8(int orig, int rec, int a) {
  return (u8)((orig * (255 - a) + rec * a + 127) / 255);
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
    float L = clampf(c.L * p[P_L_MUL] + p[P_L_ADD], 0.f, 100.f);
    float A = c.A + p[P_AB_MIX] * (p[P_A_TGT] - c.A);
    float B = c.B + p[P_AB_MIX] * (p[P_B_TGT] - c.B);
    lab_to_rgb_f(L, A, B, &fr, &fg, &fb);
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
