// Paged decode attention: one query token per sequence against its KV blocks.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

constexpr int kMaxSplits = 16;
constexpr int kMaxClusterSplits = 16;  // the largest thread-block cluster (past the portable 8, allowed per kernel)

// Whether launches merge a sequence's splits in a thread-block cluster (the `cluster` argument below) rather than with
// the workspace and a second kernel: on compute capability 9.0+ unless INFERENCE_PAGED_CLUSTER_COMBINE=0.
bool paged_decode_cluster_enabled();
// The most splits such a launch takes: kMaxClusterSplits, or INFERENCE_PAGED_CLUSTER_SPLITS (2-16). Capped at the
// portable 8, a batch-1 Llama-3-8B W4A16 decode step at ~4K tokens of context took 4.42 ms against 3.47 at 16 (H100,
// tests/scripts/gpu/round-AK.sh); at 256 tokens the two were level.
int paged_decode_cluster_splits();

// How many context ranges each sequence's attention is cut into: enough blocks for about two per SM, each range
// worth at least 64 tokens of max_context, at most max_splits (kMaxSplits, or paged_decode_cluster_splits()).
// Depends on shapes only, so a captured graph keeps it.
int paged_decode_splits(int batch, int kv_heads, int heads, int max_context, int num_sms, int max_splits);

// The decode step's rotary embedding and cache write done by the attention kernel rather than a launch of their own.
// q then points at the qkv rows [B, (H + 2·KV)·D] as the projection wrote them (q_stride_b elements apart): every block
// rotates its query heads at positions[b], and the block whose context range holds the step's token (lens[b] − 1)
// rotates that token's key, stores the key and the value at slots[b] of the caches, and reads them from shared memory.
// The results are bit-equal to launch_rotary_qk_cache followed by this kernel on the rotated q.
struct PagedRope {
  const int64_t* positions;  // [B]
  const float* cos;          // [max_pos, D] float32, HF's cat(freqs, freqs) layout
  const float* sin;          // [max_pos, D]
  const int64_t* slots;      // [B]
};

// dtype: 0 = float32, 1 = float16, 2 = bfloat16.
// q, out:    [B, H, D] (row stride q_stride_b / out_stride_b elements, heads contiguous), 16-byte aligned rows
// k/v:       [num_slots, KV, D] contiguous; slot = block * block_size + offset; D a multiple of 8, at most 256
// tables:    [B, max_blocks] int32;  lens: [B] int32 tokens of context (the new token included)
// window:    sliding window in tokens (0 = none): only the last `window` positions are attended.
// workspace: float32 [B, H, splits, D + 2] when splits > 1 without cluster (else unused, may be null).
// cluster:   (compute capability 9.0+) a sequence's splits run as one thread-block cluster and merge their partial
//            softmaxes through distributed shared memory, bit-equal to the workspace and the second kernel otherwise
//            launched; splits at most kMaxClusterSplits.
// rope:      null when q is rotated and the caches hold the step's token; else see PagedRope (the caches are written).
cudaError_t launch_paged_decode_attention(int dtype, void* out, float* workspace, const void* q, void* k_cache, void* v_cache,
                                          const int32_t* tables, const int32_t* lens, int batch, int heads, int kv_heads,
                                          int head_dim, int block_size, int max_blocks, int window, float scale, int64_t q_stride_b,
                                          int64_t out_stride_b, int splits, bool cluster, const PagedRope* rope,
                                          cudaStream_t stream);
