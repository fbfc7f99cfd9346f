// 16-bit pairs of dequantized group-wise codes, shared by the mma.sync (groupwise_gemm.cu) and wgmma
// (groupwise_gemm_sm90.cu) kernels. INT4 codes become bf16/fp16 pairs with the magic-exponent trick: a code u in the
// low mantissa bits of kMagic's half is the value kBase + u, so subtracting kBase + z is exact.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>
#include "ptx_bits.cuh"

template <typename T>
struct Pair;
template <> struct Pair<__nv_bfloat16> {
  using T2 = __nv_bfloat162;
  static constexpr uint32_t kMagic = 0x43004300u;  // bf16 (128, 128)
  static constexpr float kBase = 128.f;
  __device__ static T2 both(float v) { return __float2bfloat162_rn(v); }
  __device__ static uint32_t pack(float lo, float hi) {
    T2 p = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&p);
  }
  __device__ static float2 unpack(uint32_t p) { return __bfloat1622float2(*reinterpret_cast<T2*>(&p)); }
  __device__ static float sum(uint32_t p) {  // the pair's two values added in float
    const float2 f = unpack(p);
    return f.x + f.y;
  }
};
template <> struct Pair<__half> {
  using T2 = __half2;
  static constexpr uint32_t kMagic = 0x64006400u;  // fp16 (1024, 1024)
  static constexpr float kBase = 1024.f;
  __device__ static T2 both(float v) { return __float2half2_rn(v); }
  __device__ static uint32_t pack(float lo, float hi) {
    T2 p = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&p);
  }
  __device__ static float2 unpack(uint32_t p) { return __half22float2(*reinterpret_cast<T2*>(&p)); }
  __device__ static float sum(uint32_t p) {
    const float2 f = unpack(p);
    return f.x + f.y;
  }
};

// (bits & 0x000F000F) | magic in one lop3 (the compiler emits an and and an or): the pair (kBase + low nibble of each
// half). bits: a code pair in the low nibbles of the two 16-bit halves, other bits ignored.
template <typename T>
__device__ __forceinline__ uint32_t magic_pair(uint32_t bits) {
  return lop3<0xEA>(bits, 0x000F000Fu, Pair<T>::kMagic);  // 0xEA: (a & b) | c
}
