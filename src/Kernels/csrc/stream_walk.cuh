// The walk of the persistent streaming kernels (groupwise_a16_aligned.cu, bcq_stream.cu): a grid of a few blocks per
// multiprocessor walks the row tiles in steps of gridDim.x, each tile in `steps` stages of a ring that runs on across
// tile boundaries, so the next tile's weights are in flight while a tile's warps meet in shared memory and store.
#pragma once
#include <algorithm>
#include "mma_partials.cuh"
#include "row_ops.cuh"

// Blocks of the persistent grid along N: blocks_per_sm on every multiprocessor, shared by the token tiles on grid.y.
inline int stream_blocks(int blocks_per_sm, int token_tiles) { return blocks_per_sm * sm_count() / token_tiles; }

// The grid along N for `tiles` tiles: one block per tile up to stream_blocks, at least one.
inline int persistent_blocks(int tiles, int blocks_per_sm, int token_tiles) {
  return std::max(1, std::min(tiles, stream_blocks(blocks_per_sm, token_tiles)));
}

// A warp's place in its block's work: stage `step` of tile `tile`. All warps of a block walk the same sequence.
struct StreamCursor {
  int tile, step;
  __device__ void advance(int steps) {
    if (++step == steps) step = 0, tile += gridDim.x;
  }
};

// What a tile's last stage stores: the projection y, or silu(gate)·up of the gated MLP's gate/up projection.
enum class Epilogue { Store, Gated };

// A tile's last stage: the block's Warps warps (which split K) add their partial sums of the tile's 16·RB channels
// from n0 in shared memory and store them (Gated: its 8·RB output channels from n0, below), and start the next tile at
// zero. Tiles alternate between two places.
// Gated, the gated MLP's gate/up projection giving silu(gate)·up: each 16-channel row group holds 8 gate channels, then
// the same 8 channels' up rows (half = N/2 rows further), and y [M, N/2] gets silu_mul of the two, each first rounded to
// T with its bias (bias: [N], gate then up), which is what storing the projection and then silu_mul computes.
template <int Warps, Epilogue Ep = Epilogue::Store, int RB, int MT, typename T>
__device__ __forceinline__ void finish_tile(float (&acc)[RB][MT][4], int warp, T* __restrict__ y, const T* __restrict__ bias, int M, int N,
                                            int n0, int64_t y_stride, const StreamCursor& out) {
  const int buffer = (out.tile / gridDim.x) & 1;
  if constexpr (Ep == Epilogue::Gated) {
    const auto& red = share_partials<Warps, 1, MT, 2>(acc, warp, 0, buffer);
    const int half = N / 2;
    for (int i = threadIdx.x; i < 8 * RB * MT * 8; i += blockDim.x) {
      const int h = i % (8 * RB), m = i / (8 * RB), n = n0 + h, c = h / 8 * 16 + h % 8;  // c: the gate channel's row, c + 8 its up
      if (n >= half || m >= M) continue;
      float gate = 0.f, up = 0.f;
#pragma unroll
      for (int wv = 0; wv < Warps; wv++) gate += red[wv][c][m], up += red[wv][c + 8][m];
      if (bias) gate += to_f(bias[n]), up += to_f(bias[half + n]);
      y[(int64_t)m * y_stride + n] = from_f<T>(silu_mul<T>(to_f(from_f<T>(gate)), to_f(from_f<T>(up))));
    }
  } else {
    reduce_partials_store<Warps, 1, MT, 2>(acc, warp, 0, y, bias, M, N, n0, y_stride, [](float sum, int, int) { return sum; }, buffer);
  }
#pragma unroll
  for (int b = 0; b < RB; b++)
#pragma unroll
    for (int j = 0; j < MT; j++) acc[b][j][0] = acc[b][j][1] = acc[b][j][2] = acc[b][j][3] = 0.f;
}
