// One token's activations in shared memory for the aligned A16 kernel (groupwise_a16_aligned.cu): each block copies
// x [K] once, permuted into the pair order every INT4 piece reads (x_perm: [chunk][v][t], lane t's four uint4 of a
// 128-column chunk) with each chunk's sum (x_sum, float).
#pragma once
#include "groupwise_a16.cuh"

namespace groupwise_a16 {

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

// The block's copy of one token's x [K] into x_perm / x_sum, for blocks of Threads threads; ends with a barrier.
template <int Threads, typename T>
__device__ __forceinline__ void stage_x_shared(uint4* x_perm, float* x_sum, const T* x, int K) {
  const int tid = threadIdx.x, items = K / 32;  // item i: chunk i / 4, lane i % 4's 32 columns
  // Warp-uniform loop: the chunk sums are shuffles over lanes 4c..4c+3.
  for (int i0 = tid - tid % 32; i0 < items; i0 += Threads) {
    const int i = i0 + tid % 32;
    uint32_t r[16];
    if (i < items) load_x_words(r, x, i * 32);
    store_x_perm<T>(x_perm, x_sum, r, i, i < items);
  }
  __syncthreads();
}

}  // namespace groupwise_a16
