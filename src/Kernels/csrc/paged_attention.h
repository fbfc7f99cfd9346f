// Paged decode attention: one query token per sequence against its KV blocks.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

// dtype: 0 = float32, 1 = float16, 2 = bfloat16.
// q, out:   [B, H, D] (row stride q_stride_b / out_stride_b elements, heads contiguous)
// k/v:      [num_slots, KV, D] contiguous; slot = block * block_size + offset
// tables:   [B, max_blocks] int32;  lens: [B] int32 tokens of context (the new token included)
// window:   sliding window in tokens (0 = none): only the last `window` positions are attended.
cudaError_t launch_paged_decode_attention(int dtype, void* out, const void* q, const void* k_cache, const void* v_cache,
                                          const int32_t* tables, const int32_t* lens, int batch, int heads, int kv_heads,
                                          int head_dim, int block_size, int max_blocks, int window, float scale,
                                          int64_t q_stride_b, int64_t out_stride_b, cudaStream_t stream);
