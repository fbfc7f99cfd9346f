// Row-wise building blocks shared by the normalisation and quantisation kernels: 16-byte vector loads/stores of 8
// elements, a block-wide reduction, a row spread over a block's registers, and RMSNorm of one row held there.
#pragma once
#include <cstdint>
#include <type_traits>
#include "dtype_convert.cuh"

// 8 elements from/to memory as float; 16-bit types move as one 16-byte access, float32 as two.
__device__ inline void load8(const float* p, float (&f)[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}
template <typename T>
__device__ inline void load8(const T* p, float (&f)[8]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const T* h = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int e = 0; e < 8; e++) f[e] = to_f(h[e]);
}
__device__ inline void store8(float* p, const float (&f)[8]) {
  reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
}
template <typename T>
__device__ inline void store8(T* p, const float (&f)[8]) {
  uint4 raw;
  T* h = reinterpret_cast<T*>(&raw);
#pragma unroll
  for (int e = 0; e < 8; e++) h[e] = from_f<T>(f[e]);
  *reinterpret_cast<uint4*>(p) = raw;
}

// Sum (or max) of v over the block of Threads threads; every thread gets the result.
template <int Threads, bool Max>
__device__ inline float block_reduce(float v) {
  __shared__ float part[Threads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = Max ? fmaxf(v, other) : v + other;
  }
  __syncthreads();  // part[] may still be read by a previous reduction
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  float r = part[0];
#pragma unroll
  for (int i = 1; i < Threads / 32; i++) r = Max ? fmaxf(r, part[i]) : r + part[i];
  return r;
}

// The vectorised row kernels take rows whose width is a multiple of 8, at most 8·Threads·16 (16 vectors per thread),
// with 16-byte aligned rows; anything else takes the scalar kernels.
inline bool vector_rows_ok(int width, int threads, const void* p, int64_t row_stride) {
  return width % 8 == 0 && width <= 8 * threads * 16 && reinterpret_cast<uintptr_t>(p) % 16 == 0 && row_stride % 8 == 0;
}

// launch(std::integral_constant<int, V>{}) for the fewest vectors per thread V in {1, 2, 4, 8, 16} that hold
// `vectors` (at most 16): how the row kernels pick their register-resident instantiation.
template <typename Launch>
void with_vectors_per_thread(int vectors, Launch launch) {
  if (vectors <= 1) launch(std::integral_constant<int, 1>{});
  else if (vectors <= 2) launch(std::integral_constant<int, 2>{});
  else if (vectors <= 4) launch(std::integral_constant<int, 4>{});
  else if (vectors <= 8) launch(std::integral_constant<int, 8>{});
  else launch(std::integral_constant<int, 16>{});
}

// Fills this thread's V 8-element vectors of the row elements [begin, end) (vector j of thread t holds elements
// begin + (t + j·Threads)·8 .. + 7): fill(i, o[j]) for the vectors that start before `end`, zeros for the others.
template <int V, int Threads, typename Fill>
__device__ inline void fill_row_vectors(float (&o)[V][8], int begin, int end, Fill fill) {
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int i = begin + (threadIdx.x + j * Threads) * 8;
    if (i < end) {
      fill(i, o[j]);
    } else {
#pragma unroll
      for (int e = 0; e < 8; e++) o[j][e] = 0.f;
    }
  }
}

// RMSNorm of one row into registers, V 8-element vectors per thread (vector j of thread t is elements (t + j·Threads)·8..):
// o = T(T(x·rsqrt(mean x² + eps))·w), rounded as HF does. With Add, x = T(residual + delta) is first written back
// to the residual row (x then points at it). Elements past `hidden` are 0.
template <typename T, int V, int Threads, bool Add>
__device__ inline void rms_norm_row(float (&o)[V][8], T* x, const T* delta, const T* w, int hidden, float eps) {
  float ss = 0.f;
  fill_row_vectors<V, Threads>(o, 0, hidden, [&](int i, float (&v)[8]) {
    load8(x + i, v);
    if (Add) {
      float d[8];
      load8(delta + i, d);
#pragma unroll
      for (int e = 0; e < 8; e++) v[e] = to_f(from_f<T>(v[e] + d[e]));
      store8(x + i, v);
    }
#pragma unroll
    for (int e = 0; e < 8; e++) ss += v[e] * v[e];
  });
  // The weights do not depend on the sum: with up to 4 vectors per thread (rows up to 8192) they are loaded before
  // the block-wide reduction, so their latency overlaps it instead of following it (wider rows would spill).
  constexpr bool kEarly = V <= 4;
  float wf[kEarly ? V : 1][8];
  if constexpr (kEarly) {
#pragma unroll
    for (int j = 0; j < V; j++) {
      const int i = (threadIdx.x + j * Threads) * 8;
      if (i < hidden) load8(w + i, wf[j]);
    }
  }
  const float inv = rsqrtf(block_reduce<Threads, false>(ss) / hidden + eps);
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int i = (threadIdx.x + j * Threads) * 8;
    if (i >= hidden) continue;
    float (&wj)[8] = wf[kEarly ? j : 0];
    if constexpr (!kEarly) load8(w + i, wj);
#pragma unroll
    for (int e = 0; e < 8; e++) o[j][e] = to_f(from_f<T>(to_f(from_f<T>(o[j][e] * inv)) * wj[e]));
  }
}

// silu(g)·u as HF computes it in T: silu(g) rounded to T, then the product in float (which the caller rounds to T).
template <typename T>
__device__ __forceinline__ float silu_mul(float g, float u) {
  return to_f(from_f<T>(g / (1.f + __expf(-g)))) * u;
}
