// float16 and bfloat16 storage types and the conversions and paired arithmetic the kernels use, rounding as the
// device does (to nearest, ties to even; paired arithmetic computes in float, where these operands' results are exact
// or rounded once, and rounds that to the 16-bit type).
#pragma once
#include "simt.h"
#include <cmath>
#include <cstdint>
#include <cstring>

struct __half { uint16_t x; };
struct __half2 { __half x, y; };
struct __nv_bfloat16 { uint16_t x; };
struct __nv_bfloat162 { __nv_bfloat16 x, y; };


inline float __bfloat162float(__nv_bfloat16 h) { return __int_as_float((int)(uint32_t)h.x << 16); }
inline __nv_bfloat16 __float2bfloat16(float f) {
  const uint32_t u = (uint32_t)__float_as_int(f);
  if (std::isnan(f)) return {(uint16_t)((u >> 16) | 0x40)};
  return {(uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16)};
}

inline float __half2float(__half h) {
  const uint32_t sign = (uint32_t)(h.x & 0x8000) << 16, e = (h.x >> 10) & 0x1F, m = h.x & 0x3FF;
  if (e == 0x1F) return __int_as_float((int)sign | 0x7F800000u | m << 13);
  if (e == 0) return (sign ? -1.f : 1.f) * std::ldexp((float)m, -24);
  return __int_as_float((int)sign | (e + 112) << 23 | m << 13);
}
inline __half __float2half(float f) {
  const uint32_t u = (uint32_t)__float_as_int(f), sign = (u >> 16) & 0x8000;
  if (std::isnan(f)) return {(uint16_t)(sign | 0x7E00)};
  const float a = std::fabs(f);
  if (a >= 65520.f) return {(uint16_t)(sign | 0x7C00)};  // rounds to infinity
  if (a < std::ldexp(1.f, -14)) {                       // subnormal: a multiple of 2^-24, nearest even
    const float m = std::nearbyint(a * std::ldexp(1.f, 24));  // the default rounding mode is to nearest, ties to even
    return {(uint16_t)(sign | (uint32_t)m)};
  }
  const uint32_t e = ((u >> 23) & 0xFF) - 112, m = u & 0x7FFFFF;
  uint32_t h = e << 10 | m >> 13;
  const uint32_t rest = m & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  // may carry into the exponent, which is right
  return {(uint16_t)(sign | h)};
}

inline __nv_bfloat162 __float2bfloat162_rn(float v) { return {__float2bfloat16(v), __float2bfloat16(v)}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__float2bfloat16(lo), __float2bfloat16(hi)}; }
inline __half2 __float2half2_rn(float v) { return {__float2half(v), __float2half(v)}; }
inline __half2 __floats2half2_rn(float lo, float hi) { return {__float2half(lo), __float2half(hi)}; }
inline float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return make_float2(__bfloat162float(h.x), __bfloat162float(h.y)); }

inline __half2 __hsub2(__half2 a, __half2 b) {
  return {__float2half(__half2float(a.x) - __half2float(b.x)), __float2half(__half2float(a.y) - __half2float(b.y))};
}
inline __half2 __hmul2(__half2 a, __half2 b) {
  return {__float2half(__half2float(a.x) * __half2float(b.x)), __float2half(__half2float(a.y) * __half2float(b.y))};
}
inline __nv_bfloat162 __hsub2(__nv_bfloat162 a, __nv_bfloat162 b) {
  return {__float2bfloat16(__bfloat162float(a.x) - __bfloat162float(b.x)), __float2bfloat16(__bfloat162float(a.y) - __bfloat162float(b.y))};
}
inline __nv_bfloat162 __hmul2(__nv_bfloat162 a, __nv_bfloat162 b) {
  return {__float2bfloat16(__bfloat162float(a.x) * __bfloat162float(b.x)), __float2bfloat16(__bfloat162float(a.y) * __bfloat162float(b.y))};
}
