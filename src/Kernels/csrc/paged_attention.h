// Paged decode attention: one query token per sequence against its KV blocks.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

// How many context ranges each sequence's attention is cut into: enough blocks for about two per SM, each range
// worth at least 64 tokens of max_context, at most 16. Depends on shapes only, so a captured graph keeps it.
int paged_decode_splits(int batch, int kv_heads, int heads, int max_context, int num_sms);

// dtype: 0 = float32, 1 = float16, 2 = bfloat16.
// q, out:    [B, H, D] (row stride q_stride_b / out_stride_b elements, heads contiguous), 16-byte aligned rows
// k/v:       [num_slots, KV, D] contiguous; slot = block * block_size + offset; D a multiple of 8, at most 256
// tables:    [B, max_blocks] int32;  lens: [B] int32 tokens of context (the new token included)
// window:    sliding window in tokens (0 = none): only the last `window` positions are attended.
// workspace: float32 [B, H, splits, D + 2] when splits > 1 (else unused, may be null).
cudaError_t launch_paged_decode_attention(int dtype, void* out, float* workspace, const void* q, const void* k_cache,
                                          const void* v_cache, const int32_t* tables, const int32_t* lens, int batch, int heads,
                                          int kv_heads, int head_dim, int block_size, int max_blocks, int window, float scale,
                                          int64_t q_stride_b, int64_t out_stride_b, int splits, cudaStream_t stream);
