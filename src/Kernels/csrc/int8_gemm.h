// INT8 × INT8 → INT32 GEMM on tensor cores with the dequantization fused into the epilogue:
// y[m, n] = (Σ_k xq[m,k]·wq[n,k]) · x_scale[m] · w_scale[n] + bias[n], written as float32/float16/bfloat16.
// xq [M, K] and wq [N, K] row-major int8 with K a multiple of 16. For M above the skinny kernel's range.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

cudaError_t launch_int8_gemm_tiled(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                   const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                   int64_t y_stride, cudaStream_t stream);

// The same on Hopper warpgroup MMA (wgmma), for large M; only where int8_gemm_sm90_available() (an sm_90 device, a
// library built for sm_90a and a driver with TMA tensor maps; false while `stream` is capturing a graph and the
// answer is not known yet).
bool int8_gemm_sm90_available(cudaStream_t stream);
cudaError_t launch_int8_gemm_sm90(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                  const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                  int64_t y_stride, cudaStream_t stream);

// The same for few rows on Hopper: weights streamed by TMA, split over K in thread-block clusters. Taken where
// int8_gemm_sm90_skinny_rows(m) (9–32 and 65–128 rows on an sm_90a build, unless INFERENCE_INT8_SM90_SKINNY=0);
// the launcher itself takes 1–kInt8Sm90SkinnyMaxRows.
constexpr int kInt8Sm90SkinnyMaxRows = 128;
bool int8_gemm_sm90_skinny_rows(int64_t m, cudaStream_t stream);
cudaError_t launch_int8_gemm_sm90_skinny(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                         const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                         int64_t y_stride, cudaStream_t stream);

// Whether INT8 GEMMs of m rows go to cuBLASLt's INT8 GEMM (at::_int_mm, which needs more than 16 rows) and then
// launch_int8_dequantize: 17–128 rows on compute capability 9.0+, unless INFERENCE_INT8_CUBLASLT=0 (for comparisons).
// ik_int8_gemm asks int8_gemm_sm90_skinny_rows first, so cuBLASLt serves 33–64 unless that kernel is off.
bool int8_gemm_cublaslt_rows(int64_t m);

// y[m, n] = acc[m, n] · x_scale[m] · w_scale[n] + bias[n]: the same epilogue as its own pass, after an INT32 GEMM
// from cuBLASLt (acc [M, N] int32 row-major).
cudaError_t launch_int8_dequantize(int out_dtype, void* y, const int32_t* acc, const float* x_scale, const float* w_scale,
                                   const void* bias, int m, int n, int64_t y_stride, cudaStream_t stream);
