// Small fused kernels that replace chains of elementwise TorchSharp ops in a decode step (each op is a launch).
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

// dtype: 0 = float32, 1 = float16, 2 = bfloat16 (for x, weight, out alike).

// out[t,:] = weight * cast(x[t,:] * rsqrt(mean(x[t,:]^2) + eps)), the statistics in float32 (HF's RMSNorm).
// x/out: [T, H] with row strides; weight [H].
cudaError_t launch_rms_norm(int dtype, void* out, const void* x, const void* weight, int rows, int hidden,
                            int64_t x_stride, int64_t out_stride, float eps, cudaStream_t stream);

// out[t, i] = silu(gate_up[t, i]) * gate_up[t, I + i], gate_up [T, 2I] contiguous, out [T, I] contiguous.
cudaError_t launch_silu_mul(int dtype, void* out, const void* gate_up, int tokens, int inter, cudaStream_t stream);

// residual[t,:] ← residual[t,:] + delta[t,:] (rounded to the dtype, as an eager add), then out = RMSNorm(residual)·weight:
// the residual add of the previous sublayer folded into the next norm (vLLM's fused_add_rms_norm).
cudaError_t launch_add_rms_norm(int dtype, void* out, void* residual, const void* delta, const void* weight, int rows, int hidden,
                                int64_t residual_stride, int64_t delta_stride, int64_t out_stride, float eps, cudaStream_t stream);

// In place on qkv [T, (H + 2·KV)·D] (row stride qkv_stride): rotates the q and k heads by the "rotate half" rotary
// embedding at positions[t], with cos/sin tables [max_pos, D] float32; and stores the step's rotated keys and its values
// at slots[t] of the paged caches k_cache/v_cache [num_slots, KV, D] (the cache write, otherwise two more launches).
cudaError_t launch_rotary_qk_cache(int dtype, void* qkv, const int64_t* positions, const float* cos, const float* sin, int tokens,
                                   int heads, int kv_heads, int head_dim, int64_t qkv_stride, void* k_cache, void* v_cache,
                                   const int64_t* slots, cudaStream_t stream);

// out[r] = the index of row r's largest value in x [rows, cols] (row stride `stride`), as torch.argmax picks it (NaN
// first, then the larger value, the lower index of equals). part_v / part_i: workspace [rows, argmax_parts(cols)].
int argmax_parts(int cols);
cudaError_t launch_argmax_rows(int dtype, int64_t* out, const void* x, int rows, int cols, int64_t stride, float* part_v, int* part_i,
                               cudaStream_t stream);
