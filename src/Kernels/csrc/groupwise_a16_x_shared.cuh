// One token's activations in shared memory for the aligned A16 kernel (groupwise_a16_aligned.cu): each block copies
// x [K] once, permuted into the pair order every INT4 piece reads (x_perm: [chunk][v][t], lane t's four uint4 of a
// 128-column chunk) with each chunk's sum (x_sum, float). The copy can compute x from the layer's producer instead of
// reading it, so that the producer's own kernel does not run:
//  - XInput::Silu: x = silu(gate)·up of the gated MLP's gate_up row [2K] (the down projection), the values
//    silu_mul_vec_kernel (fused_ops.cu) writes;
//  - XInput::RmsNorm / AddRmsNorm: x = RMSNorm(h)·w with h = residual (+ delta), rounded as rms_norm_row
//    (row_ops.cuh) rounds them; every block sums h² over the whole row itself (16 KB of L2 reads at K = 4096), and
//    with the add the last block to have read the residual writes its copy of h back (XNorm::arrivals counts them).
#pragma once
#include "groupwise_a16.cuh"
#include "row_ops.cuh"

enum class XInput { Plain, Silu, RmsNorm, AddRmsNorm };

// The norm's operands (XInput::RmsNorm, AddRmsNorm); x is the residual row itself.
template <typename T>
struct XNorm {
  T* residual;               // [K]: read; AddRmsNorm: becomes residual + delta
  const T* delta;            // [K], AddRmsNorm only
  const T* weight;           // [K]
  float eps;
  unsigned int* arrivals;    // AddRmsNorm: blocks that have read the residual; zero between launches
};

namespace groupwise_a16 {

// 32 activations at k0 as 16 words of two (k = 2w, 2w + 1 in word w), computed by f(k, float (&v)[8]) per 8.
template <typename T, typename F>
__device__ __forceinline__ void words_of(uint32_t (&r)[16], int k0, F f) {
#pragma unroll
  for (int v = 0; v < 4; v++) {
    float e[8];
    f(k0 + 8 * v, e);
#pragma unroll
    for (int j = 0; j < 4; j++) r[4 * v + j] = Pair<T>::pack(e[2 * j], e[2 * j + 1]);
  }
}

// Item i's v-th uint4 in x_perm (item i: chunk i / 4, lane i % 4's 32 columns; layout [chunk][v][lane]).
__device__ __forceinline__ int x_slot(int i, int v) { return (i / 4 * 4 + v) * 4 + i % 4; }

// Stores item i's 32 activations (r: natural order) in pair order and adds the chunk's sum over its four lanes into
// x_sum[i / 4]. Called by whole warps (lanes 4c..4c+3 share chunk c); `ok` false for lanes past the last item.
template <typename T>
__device__ __forceinline__ void store_x_perm(uint4* x_perm, float* x_sum, const uint32_t (&r)[16], int i, bool ok) {
  float sum = 0.f;
  if (ok) {
    uint32_t xp[16];
    permute_x_int4(xp, r);
#pragma unroll
    for (int v = 0; v < 4; v++) x_perm[x_slot(i, v)] = make_uint4(xp[4 * v], xp[4 * v + 1], xp[4 * v + 2], xp[4 * v + 3]);
#pragma unroll
    for (int p = 0; p < 16; p++) sum += Pair<T>::sum(xp[p]);
  }
  sum += __shfl_xor_sync(0xFFFFFFFFu, sum, 1);
  sum += __shfl_xor_sync(0xFFFFFFFFu, sum, 2);
  if (ok && i % 4 == 0) x_sum[i / 4] = sum;
}

// The block's copy of one token's x (see the file's comment) into x_perm / x_sum, for blocks of Threads threads; ends
// with a barrier. x: the token's row (Silu: gate_up [2K]; the norms: the residual).
template <XInput In, int Threads, typename T>
__device__ __forceinline__ void stage_x_shared(uint4* x_perm, float* x_sum, const T* x, int K, const XNorm<T>& norm) {
  const int tid = threadIdx.x, items = K / 32;  // item i: chunk i / 4, lane i % 4's 32 columns
  // Warp-uniform loops: the chunk sums are shuffles over lanes 4c..4c+3.
  if constexpr (In == XInput::Plain || In == XInput::Silu) {
    for (int i0 = tid - tid % 32; i0 < items; i0 += Threads) {
      const int i = i0 + tid % 32;
      uint32_t r[16];
      if (i < items) {
        if constexpr (In == XInput::Plain) {
          load_x_words(r, x, i * 32);
        } else {
          words_of<T>(r, i * 32, [&](int k, float (&e)[8]) {
            float u[8];
            load8(x + k, e);
            load8(x + K + k, u);
#pragma unroll
            for (int j = 0; j < 8; j++) e[j] = silu_mul<T>(e[j], u[j]);
          });
        }
      }
      store_x_perm<T>(x_perm, x_sum, r, i, i < items);
    }
  } else {
    // Pass 1: h = residual (+ delta) rounded to T, kept in x_perm's slots of the same lane in natural order; Σ h².
    float ss = 0.f;
    for (int i = tid; i < items; i += Threads) {
      uint32_t r[16];
      words_of<T>(r, i * 32, [&](int k, float (&e)[8]) {
        load8(norm.residual + k, e);
        if constexpr (In == XInput::AddRmsNorm) {
          float d[8];
          load8(norm.delta + k, d);
#pragma unroll
          for (int j = 0; j < 8; j++) e[j] = to_f(from_f<T>(e[j] + d[j]));
        }
#pragma unroll
        for (int j = 0; j < 8; j++) ss += e[j] * e[j];
      });
#pragma unroll
      for (int v = 0; v < 4; v++) x_perm[x_slot(i, v)] = make_uint4(r[4 * v], r[4 * v + 1], r[4 * v + 2], r[4 * v + 3]);
    }
    const float inv = rsqrtf(block_reduce<Threads, false>(ss) / K + norm.eps);  // its barriers order pass 1's reads
    if constexpr (In == XInput::AddRmsNorm) {
      // Every block has read the residual once all have arrived: the last one writes h back from its pass-1 copy.
      __shared__ bool last;
      if (tid == 0) {
        __threadfence();
        last = atomicAdd(norm.arrivals, 1u) == gridDim.x * gridDim.y - 1;
        if (last) *norm.arrivals = 0;
      }
      __syncthreads();
      if (last)
        for (int i = tid; i < items; i += Threads)
#pragma unroll
          for (int v = 0; v < 4; v++) reinterpret_cast<uint4*>(norm.residual + i * 32)[v] = x_perm[x_slot(i, v)];
    }
    // Pass 2: x = T(T(h · inv) · w), permuted, with the chunk sums.
    for (int i0 = tid - tid % 32; i0 < items; i0 += Threads) {
      const int i = i0 + tid % 32;
      uint32_t r[16];
      if (i < items) {
        uint32_t h[16];
#pragma unroll
        for (int v = 0; v < 4; v++) {
          const uint4 s = x_perm[x_slot(i, v)];
          h[4 * v] = s.x, h[4 * v + 1] = s.y, h[4 * v + 2] = s.z, h[4 * v + 3] = s.w;
        }
        words_of<T>(r, i * 32, [&](int k, float (&e)[8]) {
          float w[8];
          load8(norm.weight + k, w);
          const int v = (k - i * 32) / 8;
#pragma unroll
          for (int j = 0; j < 4; j++) {
            const float2 p = Pair<T>::unpack(h[4 * v + j]);
            e[2 * j] = to_f(from_f<T>(to_f(from_f<T>(p.x * inv)) * w[2 * j]));
            e[2 * j + 1] = to_f(from_f<T>(to_f(from_f<T>(p.y * inv)) * w[2 * j + 1]));
          }
        });
      }
      store_x_perm<T>(x_perm, x_sum, r, i, i < items);
    }
  }
  __syncthreads();
}

}  // namespace groupwise_a16
