// The epilogue of the streaming m16n8 kernels (skinny_gemm.cu, groupwise_gemm.cu, groupwise_a16_aligned.cu): a block's
// warps split K, so each of the `Splits` warps of a row group holds partial sums of the same 16 channels × 8·MT tokens
// in the m16n8 accumulator layout (lane (g, t): channels g and g + 8 of its row group, tokens 2t and 2t + 1 of each
// tile). They meet in shared memory; consecutive threads then finish consecutive channels of a token.
#pragma once
#include "dtype_convert.cuh"

// acc [RB][MT][4]: this warp's accumulators for RB row groups of 16 channels; split: its index among the warps that
// share those channels; row_group: which RB of the block's 16·RG·RB channel groups it holds, RB·row_group + b. Writes
// them into place `buffer` of the block's shared partial sums and returns that place, [split warp][channel][token]
// (padded against bank conflicts), after a barrier. A block that reduces again (persistent blocks) alternates between
// Buffers = 2 places, `buffer` = 0, 1, 0, ...: the barrier inside a call then also keeps a warp from writing a place
// another warp still reads, without a barrier after it.
template <int Splits, int RG, int MT, int Buffers, int RB, typename Acc>
__device__ __forceinline__ auto& share_partials(const Acc (&acc)[RB][MT][4], int split, int row_group, int buffer) {
  constexpr int kChannels = 16 * RG * RB;
  __shared__ Acc places[Buffers][Splits][kChannels][MT * 8 + 1];
  auto& red = places[buffer];
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
#pragma unroll
  for (int b = 0; b < RB; b++) {
    const int r = (row_group * RB + b) * 16 + g;
#pragma unroll
    for (int j = 0; j < MT; j++) {
      red[split][r][j * 8 + 2 * t] = acc[b][j][0];
      red[split][r][j * 8 + 2 * t + 1] = acc[b][j][1];
      red[split][r + 8][j * 8 + 2 * t] = acc[b][j][2];
      red[split][r + 8][j * 8 + 2 * t + 1] = acc[b][j][3];
    }
  }
  __syncthreads();
  return red;
}

// share_partials, then for each stored element y[m, n] = to_float(Σ partials, m, n) + bias[n], the channels from nb
// (M ≤ 8·MT tokens here; channels ≥ N are dropped); consecutive threads finish consecutive channels of a token.
template <int Splits, int RG, int MT, int Buffers = 1, int RB, typename Acc, typename OutT, typename ToFloat>
__device__ __forceinline__ void reduce_partials_store(const Acc (&acc)[RB][MT][4], int split, int row_group, OutT* __restrict__ y,
                                                      const OutT* __restrict__ bias, int M, int N, int nb, int64_t y_stride,
                                                      ToFloat to_float, int buffer = 0) {
  constexpr int kChannels = 16 * RG * RB;
  const auto& red = share_partials<Splits, RG, MT, Buffers>(acc, split, row_group, buffer);
  for (int i = threadIdx.x; i < kChannels * MT * 8; i += blockDim.x) {
    const int c = i % kChannels, m = i / kChannels, n = nb + c;
    if (n >= N || m >= M) continue;
    Acc s = 0;
#pragma unroll
    for (int wv = 0; wv < Splits; wv++) s += red[wv][c][m];
    float v = to_float(s, m, n);
    if (bias) v += to_f(bias[n]);
    y[(int64_t)m * y_stride + n] = from_f<OutT>(v);
  }
}

// One row group per warp: acc [MT][4].
template <int Splits, int RG, int MT, int Buffers = 1, typename Acc, typename OutT, typename ToFloat>
__device__ __forceinline__ void reduce_partials_store(const Acc (&acc)[MT][4], int split, int row_group, OutT* __restrict__ y,
                                                      const OutT* __restrict__ bias, int M, int N, int nb, int64_t y_stride,
                                                      ToFloat to_float, int buffer = 0) {
  reduce_partials_store<Splits, RG, MT, Buffers, 1>(reinterpret_cast<const Acc (&)[1][MT][4]>(acc), split, row_group, y, bias, M, N, nb,
                                                    y_stride, to_float, buffer);
}

// acc += scale · d for one m16n8 accumulator: s_lo for the lane's channel g (elements 0, 1), s_hi for g + 8 (2, 3).
__device__ __forceinline__ void add_scaled(float (&acc)[4], float s_lo, float s_hi, const float (&d)[4]) {
  acc[0] = fmaf(s_lo, d[0], acc[0]);
  acc[1] = fmaf(s_lo, d[1], acc[1]);
  acc[2] = fmaf(s_hi, d[2], acc[2]);
  acc[3] = fmaf(s_hi, d[3], acc[3]);
}
