// Small fused kernels that replace chains of elementwise TorchSharp ops in a decode step (each op is a launch).
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

// dtype: 0 = float32, 1 = float16, 2 = bfloat16 (for x, weight, out alike).

// out[t,:] = weight * cast(x[t,:] * rsqrt(mean(x[t,:]^2) + eps)), the statistics in float32 (HF's RMSNorm).
// x/out: [T, H] with row strides; weight [H].
cudaError_t launch_rms_norm(int dtype, void* out, const void* x, const void* weight, int rows, int hidden,
                            int64_t x_stride, int64_t out_stride, float eps, cudaStream_t stream);

// In place on qkv [T, (Hq + Hkv + Hkv) * D] (row stride qkv_stride): rotates the first Hq + Hkv heads (q and k)
// by the "rotate half" rotary embedding at positions[t], with cos/sin tables [max_pos, D] float32.
cudaError_t launch_rotary_qk(int dtype, void* qkv, const int64_t* positions, const float* cos, const float* sin,
                             int tokens, int rotated_heads, int head_dim, int64_t qkv_stride, cudaStream_t stream);

// out[t, i] = silu(gate_up[t, i]) * gate_up[t, I + i], gate_up [T, 2I] contiguous, out [T, I] contiguous.
cudaError_t launch_silu_mul(int dtype, void* out, const void* gate_up, int tokens, int inter, cudaStream_t stream);
