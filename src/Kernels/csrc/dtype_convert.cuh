// float ⇄ storage-type conversions shared by the kernels (float32, float16, bfloat16).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

__device__ inline float to_f(float x) { return x; }
__device__ inline float to_f(__half x) { return __half2float(x); }
__device__ inline float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ inline T from_f(float x);
template <> __device__ inline float from_f<float>(float x) { return x; }
template <> __device__ inline __half from_f<__half>(float x) { return __float2half(x); }
template <> __device__ inline __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
