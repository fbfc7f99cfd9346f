#include "dtype_convert.cuh"
#include "quantize.h"

namespace {

constexpr int kThreads = 256;

template <bool Max>
__device__ float block_reduce(float v) {
  __shared__ float part[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = Max ? fmaxf(v, other) : v + other;
  }
  __syncthreads();  // part[] may still be read by a previous reduction
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  float r = part[0];
  for (int i = 1; i < kThreads / 32; i++) r = Max ? fmaxf(r, part[i]) : r + part[i];
  return r;
}

// Quantizes one row whose values come from value(i), i in [0, n): abs-max pass, then rounding pass (recomputing
// value(i) is cheaper than staging up to 28672 floats per row). IEEE division (__fdiv_rn) and round-half-even
// match torch's (x / scale).round() under --use_fast_math.
template <typename F>
__device__ void quantize_row(int8_t* q, float* scale_out, int n, float static_scale, F value) {
  float s = static_scale;
  if (s <= 0.f) {
    float amax = 0.f;
    for (int i = threadIdx.x; i < n; i += kThreads) amax = fmaxf(amax, fabsf(value(i)));
    s = __fdiv_rn(fmaxf(block_reduce<true>(amax), 1e-8f), 127.f);
  }
  for (int i = threadIdx.x; i < n; i += kThreads)
    q[i] = (int8_t)fminf(fmaxf(rintf(__fdiv_rn(value(i), s)), -127.f), 127.f);
  if (threadIdx.x == 0) *scale_out = s;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) rms_norm_quant_kernel(int8_t* q, float* scale, const T* x, const T* w, int h,
                                                                  int64_t xs, float eps, float static_scale) {
  const T* xr = x + blockIdx.x * xs;
  float ss = 0.f;
  for (int i = threadIdx.x; i < h; i += kThreads) { const float v = to_f(xr[i]); ss += v * v; }
  const float inv = rsqrtf(block_reduce<false>(ss) / h + eps);
  quantize_row(q + (int64_t)blockIdx.x * h, scale + blockIdx.x, h, static_scale, [&](int i) {
    return to_f(from_f<T>(to_f(from_f<T>(to_f(xr[i]) * inv)) * to_f(w[i])));
  });
}

// residual ← T(residual + delta), then rms_norm_quant of it (the previous sublayer's residual add folded in).
template <typename T>
__global__ void __launch_bounds__(kThreads) add_rms_norm_quant_kernel(int8_t* q, float* scale, T* res, const T* delta, const T* w,
                                                                      int h, int64_t rs, int64_t ds, float eps, float static_scale) {
  T* rr = res + blockIdx.x * rs;
  const T* dr = delta + blockIdx.x * ds;
  float ss = 0.f;
  for (int i = threadIdx.x; i < h; i += kThreads) {
    const T r = from_f<T>(to_f(rr[i]) + to_f(dr[i]));
    rr[i] = r;  // each thread re-reads only its own indices below
    const float v = to_f(r);
    ss += v * v;
  }
  const float inv = rsqrtf(block_reduce<false>(ss) / h + eps);
  quantize_row(q + (int64_t)blockIdx.x * h, scale + blockIdx.x, h, static_scale, [&](int i) {
    return to_f(from_f<T>(to_f(from_f<T>(to_f(rr[i]) * inv)) * to_f(w[i])));
  });
}

template <typename T>
__global__ void __launch_bounds__(kThreads) silu_mul_quant_kernel(int8_t* q, float* scale, const T* gu, int inter, float static_scale) {
  const T* row = gu + (int64_t)blockIdx.x * 2 * inter;
  quantize_row(q + (int64_t)blockIdx.x * inter, scale + blockIdx.x, inter, static_scale, [&](int i) {
    const float g = to_f(row[i]);
    return to_f(from_f<T>(to_f(from_f<T>(g / (1.f + __expf(-g)))) * to_f(row[inter + i])));
  });
}

template <typename T>
__global__ void __launch_bounds__(kThreads) quantize_rows_kernel(int8_t* q, float* scale, const T* x, int cols, int64_t xs, float static_scale) {
  const T* row = x + blockIdx.x * xs;
  quantize_row(q + (int64_t)blockIdx.x * cols, scale + blockIdx.x, cols, static_scale, [&](int i) { return to_f(row[i]); });
}

template <typename T> struct RmsNormQuant {
  static cudaError_t run(int8_t* q, float* s, const void* x, const void* w, int rows, int h, int64_t xs, float eps, float ss, cudaStream_t st) {
    rms_norm_quant_kernel<T><<<rows, kThreads, 0, st>>>(q, s, (const T*)x, (const T*)w, h, xs, eps, ss);
    return cudaGetLastError();
  }
};
template <typename T> struct AddRmsNormQuant {
  static cudaError_t run(int8_t* q, float* s, void* res, const void* delta, const void* w, int rows, int h, int64_t rs, int64_t ds, float eps, float ss, cudaStream_t st) {
    add_rms_norm_quant_kernel<T><<<rows, kThreads, 0, st>>>(q, s, (T*)res, (const T*)delta, (const T*)w, h, rs, ds, eps, ss);
    return cudaGetLastError();
  }
};
template <typename T> struct SiluMulQuant {
  static cudaError_t run(int8_t* q, float* s, const void* gu, int rows, int inter, float ss, cudaStream_t st) {
    silu_mul_quant_kernel<T><<<rows, kThreads, 0, st>>>(q, s, (const T*)gu, inter, ss);
    return cudaGetLastError();
  }
};
template <typename T> struct QuantizeRows {
  static cudaError_t run(int8_t* q, float* s, const void* x, int rows, int cols, int64_t xs, float ss, cudaStream_t st) {
    quantize_rows_kernel<T><<<rows, kThreads, 0, st>>>(q, s, (const T*)x, cols, xs, ss);
    return cudaGetLastError();
  }
};

}  // namespace

cudaError_t launch_rms_norm_quant(int dtype, int8_t* q, float* scale, const void* x, const void* weight, int rows,
                                  int hidden, int64_t x_stride, float eps, float static_scale, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return dispatch_dtype<RmsNormQuant>(dtype, q, scale, x, weight, rows, hidden, x_stride, eps, static_scale, stream);
}

cudaError_t launch_add_rms_norm_quant(int dtype, int8_t* q, float* scale, void* residual, const void* delta, const void* weight,
                                      int rows, int hidden, int64_t residual_stride, int64_t delta_stride, float eps,
                                      float static_scale, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return dispatch_dtype<AddRmsNormQuant>(dtype, q, scale, residual, delta, weight, rows, hidden, residual_stride, delta_stride, eps, static_scale, stream);
}

cudaError_t launch_silu_mul_quant(int dtype, int8_t* q, float* scale, const void* gate_up, int rows, int inter,
                                  float static_scale, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return dispatch_dtype<SiluMulQuant>(dtype, q, scale, gate_up, rows, inter, static_scale, stream);
}

cudaError_t launch_quantize_rows(int dtype, int8_t* q, float* scale, const void* x, int rows, int cols, int64_t x_stride,
                                 float static_scale, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return dispatch_dtype<QuantizeRows>(dtype, q, scale, x, rows, cols, x_stride, static_scale, stream);
}
