// float16 and bfloat16 storage types with the conversions and paired arithmetic the kernels use, for the device
// compile check: the same names and signatures as CUDA's cuda_fp16.h / cuda_bf16.h, with conversions in PTX.
#pragma once
#include "cuda_runtime.h"

struct __align__(2) __half { unsigned short __x; };
struct __align__(4) __half2 { __half x, y; };
struct __align__(2) __nv_bfloat16 { unsigned short __x; };
struct __align__(4) __nv_bfloat162 { __nv_bfloat16 x, y; };
typedef __half half;
typedef __half2 half2;
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;

static __device__ __forceinline__ float __half2float(__half h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.__x));
  return f;
}
static __device__ __forceinline__ __half __float2half(float f) {
  __half h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.__x) : "f"(f));
  return h;
}
static __device__ __forceinline__ float __bfloat162float(__nv_bfloat16 h) { return __int_as_float((int)h.__x << 16); }
static __device__ __forceinline__ __nv_bfloat16 __float2bfloat16(float f) {
  __nv_bfloat16 h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h.__x) : "f"(f));
  return h;
}
static __device__ __forceinline__ __nv_bfloat162 __float2bfloat162_rn(float v) { return {__float2bfloat16(v), __float2bfloat16(v)}; }
static __device__ __forceinline__ __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__float2bfloat16(lo), __float2bfloat16(hi)}; }
static __device__ __forceinline__ __half2 __float2half2_rn(float v) { return {__float2half(v), __float2half(v)}; }
static __device__ __forceinline__ __half2 __floats2half2_rn(float lo, float hi) { return {__float2half(lo), __float2half(hi)}; }
static __device__ __forceinline__ float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
static __device__ __forceinline__ float2 __bfloat1622float2(__nv_bfloat162 h) { return make_float2(__bfloat162float(h.x), __bfloat162float(h.y)); }
static __device__ __forceinline__ __half2 __hsub2(__half2 a, __half2 b) {
  return {__float2half(__half2float(a.x) - __half2float(b.x)), __float2half(__half2float(a.y) - __half2float(b.y))};
}
static __device__ __forceinline__ __half2 __hmul2(__half2 a, __half2 b) {
  return {__float2half(__half2float(a.x) * __half2float(b.x)), __float2half(__half2float(a.y) * __half2float(b.y))};
}
static __device__ __forceinline__ __nv_bfloat162 __hsub2(__nv_bfloat162 a, __nv_bfloat162 b) {
  return {__float2bfloat16(__bfloat162float(a.x) - __bfloat162float(b.x)), __float2bfloat16(__bfloat162float(a.y) - __bfloat162float(b.y))};
}
static __device__ __forceinline__ __nv_bfloat162 __hmul2(__nv_bfloat162 a, __nv_bfloat162 b) {
  return {__float2bfloat16(__bfloat162float(a.x) * __bfloat162float(b.x)), __float2bfloat16(__bfloat162float(a.y) * __bfloat162float(b.y))};
}
