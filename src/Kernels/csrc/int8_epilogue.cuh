// What every INT8 GEMM kernel ends with: y[m, n] = acc · x_scale[m] · w_scale[n] + bias[n] in the output dtype, and
// the output-dtype dispatch of their launchers.
#pragma once
#include <cstdint>
#include "dtype_convert.cuh"

// acc · x_scale · w_scale[n] + bias[n], in float (bias may be null).
template <typename OutT>
__device__ __forceinline__ float dequantized(int acc, float sx, const float* ws, const OutT* bias, int n) {
  float v = (float)acc * sx * ws[n];
  if (bias) v += to_f(bias[n]);
  return v;
}

template <typename OutT>
__device__ __forceinline__ void store_dequantized(OutT* y, int64_t ldy, int m, int n, int acc, float sx, const float* ws,
                                                  const OutT* bias) {
  y[(int64_t)m * ldy + n] = from_f<OutT>(dequantized(acc, sx, ws, bias, n));
}

// Runs L<OutT>::run((OutT*)y, (const OutT*)bias, args...) for out_dtype 0 = float32, 1 = float16, 2 = bfloat16.
template <template <typename> class L, typename... A>
cudaError_t dispatch_out(int out_dtype, void* y, const void* bias, A... args) {
  switch (out_dtype) {
    case 0: return L<float>::run((float*)y, (const float*)bias, args...);
    case 1: return L<__half>::run((__half*)y, (const __half*)bias, args...);
    case 2: return L<__nv_bfloat16>::run((__nv_bfloat16*)y, (const __nv_bfloat16*)bias, args...);
    default: return cudaErrorInvalidValue;
  }
}
