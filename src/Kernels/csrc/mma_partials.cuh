// The epilogue of the streaming m16n8 kernels (skinny_gemm.cu, groupwise_gemm.cu, groupwise_a16_aligned.cu): a block's
// warps split K, so each of the `Splits` warps of a row group holds partial sums of the same 16 channels × 8·MT tokens
// in the m16n8 accumulator layout (lane (g, t): channels g and g + 8 of its row group, tokens 2t and 2t + 1 of each
// tile). They meet in shared memory; consecutive threads then finish consecutive channels of a token.
#pragma once
#include "dtype_convert.cuh"

// acc [MT][4]: this warp's accumulators; split: its index among its row group's warps; row_group: which 16 of the
// block's 16·RG channels (from nb) it holds. For each stored element y[m, n] = to_float(Σ partials, m, n) + bias[n]
// (M ≤ 8·MT tokens here; channels ≥ N are dropped). A block that reduces again (persistent blocks) alternates between
// Buffers = 2 places, `buffer` = 0, 1, 0, ...: the barrier inside a call then also keeps a warp from writing a place
// another warp still reads, without a barrier after it.
template <int Splits, int RG, int MT, int Buffers = 1, typename Acc, typename OutT, typename ToFloat>
__device__ __forceinline__ void reduce_partials_store(const Acc (&acc)[MT][4], int split, int row_group, OutT* __restrict__ y,
                                                      const OutT* __restrict__ bias, int M, int N, int nb, int64_t y_stride,
                                                      ToFloat to_float, int buffer = 0) {
  __shared__ Acc places[Buffers][Splits][16 * RG][MT * 8 + 1];  // [split warp][channel][token], padded against bank conflicts
  auto& red = places[buffer];
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4, r = row_group * 16 + g;
#pragma unroll
  for (int j = 0; j < MT; j++) {
    red[split][r][j * 8 + 2 * t] = acc[j][0];
    red[split][r][j * 8 + 2 * t + 1] = acc[j][1];
    red[split][r + 8][j * 8 + 2 * t] = acc[j][2];
    red[split][r + 8][j * 8 + 2 * t + 1] = acc[j][3];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < 16 * RG * MT * 8; i += blockDim.x) {
    const int c = i % (16 * RG), m = i / (16 * RG), n = nb + c;
    if (n >= N || m >= M) continue;
    Acc s = 0;
#pragma unroll
    for (int wv = 0; wv < Splits; wv++) s += red[wv][c][m];
    float v = to_float(s, m, n);
    if (bias) v += to_f(bias[n]);
    y[(int64_t)m * y_stride + n] = from_f<OutT>(v);
  }
}
