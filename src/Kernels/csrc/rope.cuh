// The "rotate half" rotary embedding of one pair of elements (x1 at i, x2 at i + D/2 of a head), with the cos/sin
// entries of the output element: r1 = x1·c − x2·s, r2 = x2·c + x1·s. Each product and the sum round separately (no
// FMA contraction), so the rotary kernel and the decode attention kernel that rotates its own q and k give the same
// bits.
#pragma once
#include "dtype_convert.cuh"

__device__ inline float rope_first(float x1, float x2, float c, float s) { return __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s)); }
__device__ inline float rope_second(float x1, float x2, float c, float s) { return __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s)); }

// Element d of a rotated head [D] (x the head as stored, c/s the position's cos/sin rows [D]).
template <typename T>
__device__ inline float rope_element(const T* x, int d, int half, const float* c, const float* s) {
  return d < half ? rope_first(to_f(x[d]), to_f(x[d + half]), c[d], s[d]) : rope_second(to_f(x[d - half]), to_f(x[d]), c[d], s[d]);
}
