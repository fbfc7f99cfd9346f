// The add-norm epilogue of the persistent streaming kernel (groupwise_a16_aligned.cu): a projection whose output y
// [M, N] is the residual branch of a block (o_proj, down_proj) adds y into the residual stream and normalises the sum
// for the next projection, as launch_add_rms_norm does after it, without writing y and without that kernel. Each tile's
// last stage writes its h = T(residual + T(y)) back to the residual and its Σh² per token into the workspace; the
// block that finishes last (an arrival count, as in CUDA's threadFenceReduction sample) adds the tiles' sums in tile
// order, the same order whichever block is last, and writes out = T(T(h·rsqrt(mean h² + eps))·w) for every row.
#pragma once
#include "groupwise_gemm.h"
#include "mma_partials.cuh"
#include "row_ops.cuh"

// Tokens a tile's sums of squares have room for: the epilogue's rows (kGroupwiseAddNormMaxRows).
constexpr int kAddNormTokens = 16;
static_assert(kGroupwiseAddNormMaxRows <= kAddNormTokens);

// The workspace's float sums [tiles of 16 channels][kAddNormTokens], then the arrival count (a tile of 16·RB channels
// uses the first N / (16·RB) rows).
__host__ __device__ inline int add_norm_sum_slots(int n) { return (n + 15) / 16 * kAddNormTokens; }

// Eight elements of a row as the other blocks wrote them (16-byte aligned): from L2 (ld.global.cg), never from this
// multiprocessor's L1, which may hold the line from before their stores.
template <typename T>
__device__ __forceinline__ void load8_l2(const T* p, float (&f)[8]) {
  const uint4 raw = __ldcg(reinterpret_cast<const uint4*>(p));
  const T* h = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int e = 0; e < 8; e++) f[e] = to_f(h[e]);
}

// A thread's part of a tile's epilogue: the tile's 16·RB channels × 8·MT tokens, element i = channel i mod 16·RB of
// token i / (16·RB), go to consecutive threads of the block's Threads in turn.
template <int Threads, int RB, int MT>
struct AddNormElements {
  static constexpr int kChannels = 16 * RB, kElements = kChannels * MT * 8, kPerThread = (kElements + Threads - 1) / Threads;
  static_assert(kChannels <= 32 && 32 % kChannels == 0 && MT * 8 <= kAddNormTokens, "a token's channels within one warp");
  static_assert(kElements % 32 == 0, "whole warps per element pass");
};

// The add-norm epilogue's state in a thread of the kernel: its arguments, and the residual values its elements of
// the tile being computed add to, loaded when the block starts the tile (after the wait for the kernel that wrote
// them) so that the tile's store does not wait for them.
template <typename T, int Threads, int RB, int MT>
struct AddNormTile {
  using Elements = AddNormElements<Threads, RB, MT>;
  GroupwiseAddNorm args;
  T residual[Elements::kPerThread];

  __device__ __forceinline__ void load_residual(int M, int N, int n0) {
    const T* const r = static_cast<const T*>(args.residual);
#pragma unroll
    for (int j = 0; j < Elements::kPerThread; j++) {
      const int i = j * Threads + threadIdx.x, c = i % Elements::kChannels, m = i / Elements::kChannels;
      if (i < Elements::kElements && n0 + c < N && m < M) residual[j] = r[(int64_t)m * args.residual_stride + n0 + c];
    }
  }
};

// A tile's store: acc [RB][MT][4] are the Warps warps' partial sums of channels n0.. (16·RB of them) for 8·MT tokens.
// Each element's h = T(residual + T(y)) goes back to the residual; a token's 16·RB channels (at most a warp) add their
// squares with shuffles, and the tile's first channel's thread writes the sum.
template <int Warps, int RB, int MT, typename T>
__device__ __forceinline__ void store_add_norm_tile(const float (&acc)[RB][MT][4], int warp, const T* __restrict__ bias, int M, int N, int n0,
                                                    int tile, int buffer, const AddNormTile<T, Warps * 32, RB, MT>& state) {
  using Elements = AddNormElements<Warps * 32, RB, MT>;
  constexpr int kChannels = Elements::kChannels;
  const auto& red = share_partials<Warps, 1, MT, 2>(acc, warp, 0, buffer);
  T* const residual = static_cast<T*>(state.args.residual);
  float* const sums = static_cast<float*>(state.args.workspace);
#pragma unroll
  for (int j = 0; j < Elements::kPerThread; j++) {
    const int i = j * Warps * 32 + threadIdx.x;
    if (i >= Elements::kElements) break;  // warp-uniform
    const int c = i % kChannels, m = i / kChannels, n = n0 + c;
    float square = 0.f;
    if (n < N && m < M) {
      float v = 0.f;
#pragma unroll
      for (int wv = 0; wv < Warps; wv++) v += red[wv][c][m];
      if (bias) v += to_f(bias[n]);
      const T h = from_f<T>(to_f(state.residual[j]) + to_f(from_f<T>(v)));
      residual[(int64_t)m * state.args.residual_stride + n] = h;
      square = to_f(h) * to_f(h);
    }
#pragma unroll
    for (int o = kChannels / 2; o > 0; o >>= 1) square += __shfl_xor_sync(0xffffffffu, square, o);
    if (c == 0) sums[tile * kAddNormTokens + m] = square;
  }
}

// Vectors of 8 elements a thread of the last block normalises per pass over a row: rows up to 8192 wide in one pass
// at 256 threads, their loads issued before the sum of squares is reduced so that the two latencies overlap.
constexpr int kAddNormVectors = 4;

// After a block's last tile: the last block of the grid to get here normalises every row and resets the count. Rows
// (residual, out, weight) start on 16-byte boundaries and N is a multiple of 8 (groupwise_a16_add_norm_supports).
template <int Threads, typename T>
__device__ __forceinline__ void finish_add_norm(const GroupwiseAddNorm& a, int M, int N, int tiles) {
  __shared__ bool last;
  float* const sums = static_cast<float*>(a.workspace);
  unsigned* const arrivals = reinterpret_cast<unsigned*>(sums + add_norm_sum_slots(N));
  __syncthreads();  // every thread's residual and sum stores are issued
  if (threadIdx.x == 0) {
    __threadfence();  // ... and visible to the whole GPU before this block counts itself in
    last = atomicAdd(arrivals, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  const T* const w = static_cast<const T*>(a.weight);
  constexpr int kPass = 8 * Threads * kAddNormVectors;  // elements per pass
  for (int m = 0; m < M; m++) {
    const T* const h = static_cast<const T*>(a.residual) + (int64_t)m * a.residual_stride;
    T* const o = static_cast<T*>(a.out) + (int64_t)m * a.out_stride;
    float hv[kAddNormVectors][8], wv[kAddNormVectors][8];
    auto load = [&](int base) {
#pragma unroll
      for (int j = 0; j < kAddNormVectors; j++) {
        const int i = base + (threadIdx.x + j * Threads) * 8;
        if (i < N) load8_l2(h + i, hv[j]), load8(w + i, wv[j]);
      }
    };
    load(0);
    float ss = 0.f;
    for (int tile = threadIdx.x; tile < tiles; tile += Threads) ss += __ldcg(sums + tile * kAddNormTokens + m);
    const float inv = rsqrtf(block_reduce<Threads, false>(ss) / N + a.eps);
    for (int base = 0;;) {
#pragma unroll
      for (int j = 0; j < kAddNormVectors; j++) {
        const int i = base + (threadIdx.x + j * Threads) * 8;
        if (i >= N) continue;
#pragma unroll
        for (int e = 0; e < 8; e++) hv[j][e] = to_f(from_f<T>(to_f(from_f<T>(hv[j][e] * inv)) * wv[j][e]));
        store8(o + i, hv[j]);
      }
      if ((base += kPass) >= N) break;
      load(base);
    }
  }
  if (threadIdx.x == 0) *arrivals = 0;
}
