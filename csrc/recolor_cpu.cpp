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

void recolor_range(const ImageJob& job, int k, std::int64_t begin, std::int64_t end) {
  const bool need_lab = any_lab(job.params, k);
  const std::int64_t plane = job.npixels * 3;
  for (std::int64_t i = begin; i < end; ++i) {
    const u8* px = job.rgb + 3 * i;
    if (job.mask[i] == 0) {
      for (int v = 0; v < k; ++v) std::memcpy(job.out + v * plane + 3 * i, px, 3);
      continue;
    }
    PixelColor c;
    load_pixel(px[0], px[1], px[2], need_lab, &c);
    for (int v = 0; v < k; ++v) {
      recolor_pixel(c, px[0], px[1], px[2], job.params + v * COLORIST_PARAMS,
                    job.out + v * plane + 3 * i);
    }
  }
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
  const std::vector<Chunk> chunks = split_into_chunks(jobs);
  const std::int64_t n = static_cast<std::int64_t>(chunks.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolve_threads(threads))
  for (std::int64_t c = 0; c < n; ++c) {
    recolor_range(jobs[chunks[c].job], k, chunks[c].begin, chunks[c].end);
  }
}

void hue_histograms_cpu(const std::vector<ImageJob>& jobs, int s_min, int v_min,
                        std::int64_t* hist, int threads) {
  const std::vector<Chunk> chunks = split_into_chunks(jobs);
  const std::int64_t n = static_cast<std::int64_t>(chunks.size());
  std::vector<std::int64_t> local(static_cast<std::size_t>(n) * 180, 0);
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolve_threads(threads))
  for (std::int64_t c = 0; c < n; ++c) {
    const ImageJob& job = jobs[chunks[c].job];
    std::int64_t* bins = local.data() + c * 180;
    for (std::int64_t i = chunks[c].begin; i < chunks[c].end; ++i) {
      if (job.mask[i] == 0) continue;
      const u8* px = job.rgb + 3 * i;
      int h, s, v;
      rgb_to_hsv_u8(px[0], px[1], px[2], &h, &s, &v);
      if (s >= s_min && v >= v_min) ++bins[h];
    }
  }
  std::fill(hist, hist + jobs.size() * 180, 0);
  for (std::int64_t c = 0; c < n; ++c) {
    for (int b = 0; b < 180; ++b) hist[chunks[c].job * 180 + b] += local[c * 180 + b];
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
