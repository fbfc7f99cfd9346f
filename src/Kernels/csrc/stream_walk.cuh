// The walk of the persistent streaming kernels (groupwise_a16_aligned.cu, bcq_stream.cu): a grid of a few blocks per
// multiprocessor walks the row tiles in steps of gridDim.x, each tile in `steps` stages of a ring that runs on across
// tile boundaries, so the next tile's weights are in flight while a tile's warps meet in shared memory and store.
#pragma once
#include <algorithm>
#include "mma_partials.cuh"

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

// A tile's last stage: the block's Warps warps (which split K) add their partial sums of the tile's 16·RB channels
// from n0 in shared memory, store them, and start the next tile at zero. Tiles alternate between two places.
template <int Warps, int RB, int MT, typename T>
__device__ __forceinline__ void finish_tile(float (&acc)[RB][MT][4], int warp, T* __restrict__ y, const T* __restrict__ bias, int M, int N,
                                            int n0, int64_t y_stride, const StreamCursor& out) {
  reduce_partials_store<Warps, 1, MT, 2>(acc, warp, 0, y, bias, M, N, n0, y_stride, [](float sum, int, int) { return sum; },
                                         (out.tile / gridDim.x) & 1);
#pragma unroll
  for (int b = 0; b < RB; b++)
#pragma unroll
    for (int j = 0; j < MT; j++) acc[b][j][0] = acc[b][j][1] = acc[b][j][2] = acc[b][j][3] = 0.f;
}
