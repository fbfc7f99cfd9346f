#include "row_ops.cuh"
#include "pdl.cuh"  // every kernel here is a programmatic dependent launch: it waits first, then lets its successor start
#include "quantize.h"

namespace {

constexpr int kThreads = 256;

// The per-token scale from a row's abs-max, and one value's INT8 level as torch computes it,
// (x / scale).round().clamp(±127): the IEEE quotient (__fdiv_rn, even under --use_fast_math) rounded half to even.
__device__ __forceinline__ float scale_of(float amax) { return __fdiv_rn(fmaxf(amax, 1e-8f), 127.f); }

// A scale and its IEEE reciprocal. An IEEE division is some twenty instructions; at prefill sizes one per element
// makes the quantizers instruction-bound (ncu: quantize_rows 11.3 µs for 1024 rows of 4096; h100-w8a8.json:
// kernel_decisions, row_quantizers), so levels multiply by the reciprocal.
struct Scale {
  float s, inv;
};
__device__ __forceinline__ Scale with_inverse(float s) { return {s, __frcp_rn(s)}; }

// v·(1/s) is within 2^-23 of v/s relative, 2e-5 at the levels' magnitude (|v/s| ≤ 128 matters; beyond, both clamp),
// so it rounds to the same integer unless the quotient lies within 1e-3 of a half-integer: only then is the exact
// quotient taken. For Inf and NaN the comparison is false, and the clamp gives the level the division would.
__device__ __forceinline__ int8_t level_of(float v, Scale sc) {
  const float q = v * sc.inv;
  float r = rintf(q);
  if (fabsf(fabsf(q - r) - 0.5f) < 1e-3f) r = rintf(__fdiv_rn(v, sc.s));
  return (int8_t)fminf(fmaxf(r, -127.f), 127.f);
}

// Quantizes one row whose values come from value(i), i in [0, n): abs-max pass, then rounding pass (recomputing
// value(i) is cheaper than staging up to 28672 floats per row).
template <typename F>
__device__ void quantize_row(int8_t* q, float* scale_out, int n, float static_scale, F value) {
  float s = static_scale;
  if (s <= 0.f) {
    float amax = 0.f;
    for (int i = threadIdx.x; i < n; i += kThreads) amax = fmaxf(amax, fabsf(value(i)));
    s = scale_of(block_reduce<kThreads, true>(amax));
  }
  const Scale sc = with_inverse(s);
  for (int i = threadIdx.x; i < n; i += kThreads) q[i] = level_of(value(i), sc);
  if (threadIdx.x == 0) *scale_out = s;
}

// The abs-max of this thread's row vectors (those past the row are 0).
template <int V>
__device__ float vectors_absmax(const float (&o)[V][8]) {
  float amax = 0.f;
#pragma unroll
  for (int j = 0; j < V; j++)
#pragma unroll
    for (int e = 0; e < 8; e++) amax = fmaxf(amax, fabsf(o[j][e]));
  return amax;
}

// Writes this thread's row vectors of elements [begin, end) (the fill_row_vectors layout) as INT8 levels of scale s
// into q (indexed by element), 8 levels per 8-byte store.
template <int V>
__device__ void store_levels(int8_t* q, const float (&o)[V][8], int begin, int end, float s) {
  const Scale sc = with_inverse(s);
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int i = begin + (threadIdx.x + j * kThreads) * 8;
    if (i >= end) continue;
    uint2 packed;
    int8_t* b = reinterpret_cast<int8_t*>(&packed);
#pragma unroll
    for (int e = 0; e < 8; e++) b[e] = level_of(o[j][e], sc);
    *reinterpret_cast<uint2*>(q + i) = packed;
  }
}

// quantize_row for a row already in registers (the layout of rms_norm_row), this block's slice [begin, end) of it;
// with Cluster > 1 the slices' abs-maxima meet across the cluster and its first block writes the scale.
template <int V, int Cluster>
__device__ void quantize_regs(int8_t* q, float* scale_out, const float (&o)[V][8], int begin, int end, float static_scale) {
  float s = static_scale;
  if (s <= 0.f) {  // the same in every block of a cluster
    const float amax = vectors_absmax(o);
    s = scale_of(Cluster > 1 ? cluster_reduce<kThreads, Cluster, true>(amax) : block_reduce<kThreads, true>(amax));
  }
  store_levels(q, o, begin, end, s);
  if (threadIdx.x == 0 && blockIdx.x % Cluster == 0) *scale_out = s;
}

// Vector i of silu(gate)·up, rounded to T, from a gate_up row (gate at row[0, width), up at row[width, 2·width)).
template <typename T>
__device__ __forceinline__ void load_silu_mul8(const T* row, int width, int i, float (&v)[8]) {
  float g[8], u[8];
  load8(row + i, g);
  load8(row + width + i, u);
#pragma unroll
  for (int e = 0; e < 8; e++) v[e] = to_f(from_f<T>(silu_mul<T>(g[e], u[e])));
}

// Vector i of a row to quantize: silu(gate)·up of a gate_up row (SiluMul) or the row's own values.
template <typename T, bool SiluMul>
__device__ __forceinline__ void load_row8(const T* row, int width, int i, float (&v)[8]) {
  if constexpr (SiluMul) load_silu_mul8(row, width, i, v);
  else load8(row + i, v);
}

// (residual add and) RMSNorm and quantisation of one row held in registers (by one block, or a slice each by a
// cluster of Cluster blocks): x read once, INT8 written once.
template <typename T, int V, bool Add, int Cluster>
__global__ void __launch_bounds__(kThreads) rms_norm_quant_vec_kernel(int8_t* q, float* scale, T* x, const T* delta, const T* w,
                                                                      int h, int64_t xs, int64_t ds, float eps, float static_scale) {
  pdl_start();
  const int row = blockIdx.x / Cluster;
  const int2 slice = cluster_slice<Cluster>(h);
  float o[V][8];
  rms_norm_row<T, V, kThreads, Add, Cluster>(o, x + row * xs, Add ? delta + row * ds : nullptr, w, h, eps, slice.x, slice.y);
  quantize_regs<V, Cluster>(q + (int64_t)row * h, scale + row, o, slice.x, slice.y, static_scale);
}

template <typename T, bool Add>
bool try_rms_norm_quant_vec(cudaError_t& err, int8_t* q, float* s, T* x, const T* delta, const T* w, int rows, int h, int64_t xs,
                            int64_t ds, float eps, float ss, cudaStream_t st) {
  if (!vector_rows_ok(h, kThreads, x, xs) || !vector_rows_ok(h, kThreads, w, 0) || !vector_rows_ok(h, kThreads, q, h) ||
      (Add && !vector_rows_ok(h, kThreads, delta, ds)))
    return false;
  launch_row_kernel<kThreads>([](auto V, auto C) { return rms_norm_quant_vec_kernel<T, decltype(V)::value, Add, decltype(C)::value>; }, rows, h, st,
                    q, s, x, delta, w, h, xs, ds, eps, ss);
  err = cudaGetLastError();
  return true;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) rms_norm_quant_kernel(int8_t* q, float* scale, const T* x, const T* w, int h,
                                                                  int64_t xs, float eps, float static_scale) {
  pdl_start();
  const T* xr = x + blockIdx.x * xs;
  float ss = 0.f;
  for (int i = threadIdx.x; i < h; i += kThreads) { const float v = to_f(xr[i]); ss += v * v; }
  const float inv = rsqrtf(block_reduce<kThreads, false>(ss) / h + eps);
  quantize_row(q + (int64_t)blockIdx.x * h, scale + blockIdx.x, h, static_scale, [&](int i) {
    return to_f(from_f<T>(to_f(from_f<T>(to_f(xr[i]) * inv)) * to_f(w[i])));
  });
}

// residual ← T(residual + delta), then rms_norm_quant of it (the previous sublayer's residual add folded in).
template <typename T>
__global__ void __launch_bounds__(kThreads) add_rms_norm_quant_kernel(int8_t* q, float* scale, T* res, const T* delta, const T* w,
                                                                      int h, int64_t rs, int64_t ds, float eps, float static_scale) {
  pdl_start();
  T* rr = res + blockIdx.x * rs;
  const T* dr = delta + blockIdx.x * ds;
  float ss = 0.f;
  for (int i = threadIdx.x; i < h; i += kThreads) {
    const T r = from_f<T>(to_f(rr[i]) + to_f(dr[i]));
    rr[i] = r;  // each thread re-reads only its own indices below
    const float v = to_f(r);
    ss += v * v;
  }
  const float inv = rsqrtf(block_reduce<kThreads, false>(ss) / h + eps);
  quantize_row(q + (int64_t)blockIdx.x * h, scale + blockIdx.x, h, static_scale, [&](int i) {
    return to_f(from_f<T>(to_f(from_f<T>(to_f(rr[i]) * inv)) * to_f(w[i])));
  });
}

// quantize_rows (or silu_mul_quant of a gate_up row) with the row in registers (by one block, or a slice each by a
// cluster of Cluster blocks): x read once as 16-byte vectors and the rounding pass without a second read. Rows of x
// (gate_up [rows, 2·width] when SiluMul) are xs elements apart. On an H100, batch-1 W8A8 decode runs 256.2 tok/s
// with the 14336-wide silu rows on clusters against 248.5 on one block each, and 258.2 with o_proj's 4096-wide rows
// on one block against 255.2 on clusters (h100-w8a8.json: kernel_decisions, row_quantizer_clusters): hence
// clusters only above 8192 (row_cluster_blocks).
template <typename T, bool SiluMul, int V, int Cluster>
__global__ void __launch_bounds__(kThreads) quantize_rows_vec_kernel(int8_t* q, float* scale, const T* x, int width, int64_t xs,
                                                                     float static_scale) {
  pdl_start();
  const int row = blockIdx.x / Cluster;
  const int2 slice = cluster_slice<Cluster>(width);
  const T* src = x + row * xs;
  float o[V][8];
  fill_row_vectors<V, kThreads>(o, slice.x, slice.y, [&](int i, float (&v)[8]) { load_row8<T, SiluMul>(src, width, i, v); });
  quantize_regs<V, Cluster>(q + (int64_t)row * width, scale + row, o, slice.x, slice.y, static_scale);
}

// Launches quantize_rows_vec_kernel when rows are 8-aligned vectors within vector_rows_ok's width; false otherwise.
template <typename T, bool SiluMul>
bool try_quantize_rows_vec(cudaError_t& err, int8_t* q, float* s, const T* x, int rows, int width, int64_t xs, float ss,
                           cudaStream_t st) {
  if (!vector_rows_ok(width, kThreads, x, xs) || reinterpret_cast<uintptr_t>(q) % 8 != 0) return false;
  launch_row_kernel<kThreads>([](auto V, auto C) { return quantize_rows_vec_kernel<T, SiluMul, decltype(V)::value, decltype(C)::value>; }, rows,
                    width, st, q, s, x, width, xs, ss);
  err = cudaGetLastError();
  return true;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) silu_mul_quant_kernel(int8_t* q, float* scale, const T* gu, int inter, float static_scale) {
  pdl_start();
  const T* row = gu + (int64_t)blockIdx.x * 2 * inter;
  quantize_row(q + (int64_t)blockIdx.x * inter, scale + blockIdx.x, inter, static_scale, [&](int i) {
    return to_f(from_f<T>(silu_mul<T>(to_f(row[i]), to_f(row[inter + i]))));
  });
}

template <typename T>
__global__ void __launch_bounds__(kThreads) quantize_rows_kernel(int8_t* q, float* scale, const T* x, int cols, int64_t xs, float static_scale) {
  pdl_start();
  const T* row = x + blockIdx.x * xs;
  quantize_row(q + (int64_t)blockIdx.x * cols, scale + blockIdx.x, cols, static_scale, [&](int i) { return to_f(row[i]); });
}

template <typename T> struct RmsNormQuant {
  static cudaError_t run(int8_t* q, float* s, const void* x, const void* w, int rows, int h, int64_t xs, float eps, float ss, cudaStream_t st) {
    cudaError_t err;
    if (try_rms_norm_quant_vec<T, false>(err, q, s, (T*)x, nullptr, (const T*)w, rows, h, xs, 0, eps, ss, st)) return err;
    launch_pdl(rms_norm_quant_kernel<T>, dim3(rows), dim3(kThreads), 0, st, q, s, (const T*)x, (const T*)w, h, xs, eps, ss);
    return cudaGetLastError();
  }
};
template <typename T> struct AddRmsNormQuant {
  static cudaError_t run(int8_t* q, float* s, void* res, const void* delta, const void* w, int rows, int h, int64_t rs, int64_t ds, float eps, float ss, cudaStream_t st) {
    cudaError_t err;
    if (try_rms_norm_quant_vec<T, true>(err, q, s, (T*)res, (const T*)delta, (const T*)w, rows, h, rs, ds, eps, ss, st)) return err;
    launch_pdl(add_rms_norm_quant_kernel<T>, dim3(rows), dim3(kThreads), 0, st, q, s, (T*)res, (const T*)delta, (const T*)w, h, rs, ds, eps, ss);
    return cudaGetLastError();
  }
};
template <typename T> struct SiluMulQuant {
  static cudaError_t run(int8_t* q, float* s, const void* gu, int rows, int inter, float ss, cudaStream_t st) {
    cudaError_t err;
    if (try_quantize_rows_vec<T, true>(err, q, s, (const T*)gu, rows, inter, 2LL * inter, ss, st)) return err;
    launch_pdl(silu_mul_quant_kernel<T>, dim3(rows), dim3(kThreads), 0, st, q, s, (const T*)gu, inter, ss);
    return cudaGetLastError();
  }
};
template <typename T> struct QuantizeRows {
  static cudaError_t run(int8_t* q, float* s, const void* x, int rows, int cols, int64_t xs, float ss, cudaStream_t st) {
    cudaError_t err;
    if (try_quantize_rows_vec<T, false>(err, q, s, (const T*)x, rows, cols, xs, ss, st)) return err;
    launch_pdl(quantize_rows_kernel<T>, dim3(rows), dim3(kThreads), 0, st, q, s, (const T*)x, cols, xs, ss);
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
