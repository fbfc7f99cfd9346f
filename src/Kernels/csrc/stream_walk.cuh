// The walk of the persistent streaming kernels (groupwise_a16_aligned.cu, bcq_stream.cu): a grid of a few blocks per
// multiprocessor walks the row tiles in steps of gridDim.x, each tile in `steps` stages of a ring that runs on across
// tile boundaries, so the next tile's weights are in flight while a tile's warps meet in shared memory and store.
#pragma once

// A warp's place in its block's work: stage `step` of tile `tile`. All warps of a block walk the same sequence.
struct StreamCursor {
  int tile, step;
  __device__ void advance(int steps) {
    if (++step == steps) step = 0, tile += gridDim.x;
  }
};
