// Just enough of CUDA for g++ to compile kernels/recolor.cu as host code, so that the
// kernel's indexing, byte packing, variant loop and the device arithmetic of
// colorist/pixel_math.h (COLORIST_DEVICE_MATH_ON_HOST) run on a CPU-only machine
// (tests/test_kernels_gpu.py). One emulated thread at a time: the kernel has no barrier,
// and each thread uses only its own slice of shared memory.
#pragma once

#define COLORIST_DEVICE_MATH_ON_HOST 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __launch_bounds__(...)

struct uint2 {
  unsigned x, y;
};
struct uint4 {
  unsigned x, y, z, w;
};
struct float4 {
  float x, y, z, w;
};
struct dim3_emulated {
  unsigned x, y, z;
};

inline dim3_emulated blockIdx, threadIdx, blockDim, gridDim;

inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

template <class T>
inline T __ldg(const T* p) {
  return *p;
}

// PTX prmt (default mode): byte n of the result is byte s[4n + 3 : 4n] of {y, x} (no sign
// replication: selectors are < 8 here).
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  const unsigned long long xy = ((unsigned long long)y << 32) | x;
  unsigned r = 0;
  for (int n = 0; n < 4; ++n) r |= (unsigned)((xy >> (8 * ((s >> (4 * n)) & 7))) & 0xff) << (8 * n);
  return r;
}
