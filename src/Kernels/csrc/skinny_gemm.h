// GEMMs for few rows (decode steps: M ≤ 64 tokens), where reading the weights once at full memory bandwidth is
// all that matters. y [M, N] = x [M, K] · w [N, K]ᵀ, both row-major with unit stride along K.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

constexpr int kSkinnyMaxRows = 64;

// INT8: y[m, n] = (Σ_k xq[m,k]·wq[n,k]) · x_scale[m] · w_scale[n] + bias[n], exact int32 sums.
// out_dtype: 0 = float32, 1 = float16, 2 = bfloat16 (y and bias). k (bytes) must be a multiple of 16.
cudaError_t launch_skinny_gemm_s8(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                  const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                  int64_t y_stride, cudaStream_t stream);

// fp16/bf16: y = x · wᵀ + bias with float accumulation. dtype: 1 = float16, 2 = bfloat16 (x, w, y, bias).
// k must be a multiple of 8 elements.
cudaError_t launch_skinny_gemm_f16(int dtype, void* y, const void* x, const void* w, const void* bias, int m, int n,
                                   int k, int64_t x_stride, int64_t y_stride, cudaStream_t stream);
