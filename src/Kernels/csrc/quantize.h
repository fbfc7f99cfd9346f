// Activation quantization fused into the kernels that produce the activations, so no separate pass over them
// remains: q[t, i] = clamp(round(v[t, i] / scale[t]), -127, 127) with scale[t] = max_i |v[t, i]| / 127 (per token,
// dynamic) or the calibrated per-tensor scale when static_scale > 0 (then scale[t] = static_scale for every t).
// v is rounded to the serving dtype first, exactly as the unfused path (norm, then quantize) sees it.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

// dtype: 0 = float32, 1 = float16, 2 = bfloat16 (x, weight, gate_up).

// v = RMSNorm(x)·weight (transformers' rounding). x [T, H] with row stride x_stride; q [T, H] contiguous; scale [T].
cudaError_t launch_rms_norm_quant(int dtype, int8_t* q, float* scale, const void* x, const void* weight, int rows,
                                  int hidden, int64_t x_stride, float eps, float static_scale, cudaStream_t stream);

// residual ← residual + delta (rounded to the dtype), then v = RMSNorm(residual)·weight. residual/delta [T, H] with
// row strides; q [T, H] contiguous; scale [T].
cudaError_t launch_add_rms_norm_quant(int dtype, int8_t* q, float* scale, void* residual, const void* delta, const void* weight,
                                      int rows, int hidden, int64_t residual_stride, int64_t delta_stride, float eps,
                                      float static_scale, cudaStream_t stream);

// v = silu(gate_up[:, :I])·gate_up[:, I:]. gate_up [T, 2I] contiguous; q [T, I] contiguous; scale [T].
cudaError_t launch_silu_mul_quant(int dtype, int8_t* q, float* scale, const void* gate_up, int rows, int inter,
                                  float static_scale, cudaStream_t stream);

// v = x. x [T, K] with row stride x_stride; q [T, K] contiguous; scale [T].
cudaError_t launch_quantize_rows(int dtype, int8_t* q, float* scale, const void* x, int rows, int cols, int64_t x_stride,
                                 float static_scale, cudaStream_t stream);
