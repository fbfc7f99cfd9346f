#include "fused_ops.h"
#include "pdl.cuh"  // every kernel here is a programmatic dependent launch: it waits first, then lets its successor start
#include "rope.cuh"
#include "row_ops.cuh"

namespace {


// Finishes RMSNorm of one row once each thread holds its share ss of the sum of squares: out = T(T(x·rsqrt)·w).
// The normalised value is rounded to T before the weight multiply, as HF does.
template <typename T>
__device__ void normalize_row(T* orow, const T* xr, const T* w, int hidden, float ss, float eps) {
  __shared__ float warp_sums[32];
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = ss;
  __syncthreads();
  float total = 0.f;
  for (int wi = 0; wi < (int)(blockDim.x / 32); wi++) total += warp_sums[wi];
  const float inv = rsqrtf(total / hidden + eps);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float n = to_f(from_f<T>(to_f(xr[i]) * inv));
    orow[i] = from_f<T>(n * to_f(w[i]));
  }
}

constexpr int kRowThreads = 256;

// One block per row (or a cluster of Cluster blocks, a slice each), the row held in registers (see rms_norm_row):
// one read of x (and delta), one write of out.
template <typename T, int V, bool Add, int Cluster>
__global__ void __launch_bounds__(kRowThreads) rms_norm_vec_kernel(T* out, T* x, const T* delta, const T* w, int hidden,
                                                                  int64_t xs, int64_t ds, int64_t os, float eps) {
  pdl_start();
  const int row = blockIdx.x / Cluster;
  const int2 slice = cluster_slice<Cluster>(hidden);
  float o[V][8];
  rms_norm_row<T, V, kRowThreads, Add, Cluster>(o, x + row * xs, Add ? delta + row * ds : nullptr, w, hidden, eps, slice.x, slice.y);
  T* orow = out + row * os;
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int i = slice.x + (threadIdx.x + j * kRowThreads) * 8;
    if (i < slice.y) store8(orow + i, o[j]);
  }
}

// The vectorised kernel when the rows allow it (returns false otherwise, launching nothing).
template <typename T, bool Add>
bool try_rms_norm_vec(cudaError_t& err, T* out, T* x, const T* delta, const T* w, int rows, int hidden, int64_t xs, int64_t ds,
                      int64_t os, float eps, cudaStream_t st) {
  if (!vector_rows_ok(hidden, kRowThreads, x, xs) || !vector_rows_ok(hidden, kRowThreads, out, os) ||
      !vector_rows_ok(hidden, kRowThreads, w, 0) || (Add && !vector_rows_ok(hidden, kRowThreads, delta, ds)))
    return false;
  launch_row_kernel<kRowThreads>([](auto V, auto C) { return rms_norm_vec_kernel<T, decltype(V)::value, Add, decltype(C)::value>; }, rows,
                                 hidden, st, out, x, delta, w, hidden, xs, ds, os, eps);
  err = cudaGetLastError();
  return true;
}

// One block per row (rows the vectorised kernel cannot take).
template <typename T>
__global__ void rms_norm_kernel(T* out, const T* x, const T* w, int hidden, int64_t xs, int64_t os, float eps) {
  pdl_start();
  const T* xr = x + blockIdx.x * xs;
  float ss = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) { float v = to_f(xr[i]); ss += v * v; }
  normalize_row(out + blockIdx.x * os, xr, w, hidden, ss, eps);
}

// residual[t,:] ← T(residual + delta); out[t,:] = RMSNorm(residual[t,:])·w. Each thread revisits the same indices
// in both passes, so it reads back exactly what it wrote.
template <typename T>
__global__ void add_rms_norm_kernel(T* out, T* residual, const T* delta, const T* w, int hidden, int64_t rs, int64_t ds,
                                    int64_t os, float eps) {
  pdl_start();
  T* rr = residual + blockIdx.x * rs;
  const T* dr = delta + blockIdx.x * ds;
  float ss = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const T r = from_f<T>(to_f(rr[i]) + to_f(dr[i]));
    rr[i] = r;
    const float v = to_f(r);
    ss += v * v;
  }
  normalize_row(out + blockIdx.x * os, rr, w, hidden, ss, eps);
}

// One block per token; thread pairs (i, i + D/2) of every q and k head rotate in place, and the step's keys (rotated)
// and values are written to their cache slots: k/v cache [slots, KV, D].
template <typename T>
__global__ void rotary_cache_kernel(T* qkv, const int64_t* pos, const float* cos, const float* sin, int heads, int kv_heads,
                                    int d, int64_t stride, T* k_cache, T* v_cache, const int64_t* slots) {
  pdl_start();
  const int t = blockIdx.x;
  const int half = d / 2;
  const float* c = cos + pos[t] * d;
  const float* s = sin + pos[t] * d;
  T* row = qkv + t * stride;
  const int64_t slot_base = slots[t] * kv_heads * d;
  for (int j = threadIdx.x; j < (heads + kv_heads) * half; j += blockDim.x) {
    const int h = j / half, i = j % half;
    T* head = row + (int64_t)h * d;
    const float x1 = to_f(head[i]), x2 = to_f(head[i + half]);
    const T r1 = from_f<T>(rope_first(x1, x2, c[i], s[i]));
    const T r2 = from_f<T>(rope_second(x1, x2, c[i + half], s[i + half]));
    head[i] = r1;
    head[i + half] = r2;
    if (h >= heads) {
      T* dst = k_cache + slot_base + (int64_t)(h - heads) * d;
      dst[i] = r1;
      dst[i + half] = r2;
    }
  }
  const T* v = row + (int64_t)(heads + kv_heads) * d;
  for (int j = threadIdx.x; j < kv_heads * d; j += blockDim.x) v_cache[slot_base + j] = v[j];
}

// rotary_cache_kernel with 8-element vectors: work item j < (heads + kv_heads)·half/8 rotates dims i0..i0+7 and
// half+i0.. of one head; the items after them copy the values to the cache, 8 elements each. Needs D % 16 == 0.
template <typename T>
__global__ void rotary_cache_vec_kernel(T* qkv, const int64_t* pos, const float* cos, const float* sin, int heads, int kv_heads,
                                        int d, int64_t stride, T* k_cache, T* v_cache, const int64_t* slots) {
  pdl_start();
  const int t = blockIdx.x, half = d / 2, per_head = half / 8;
  const float* c = cos + pos[t] * d;
  const float* s = sin + pos[t] * d;
  T* row = qkv + t * stride;
  const int64_t slot_base = slots[t] * kv_heads * d;
  const int rotations = (heads + kv_heads) * per_head, copies = kv_heads * d / 8;
  for (int j = threadIdx.x; j < rotations + copies; j += blockDim.x) {
    if (j >= rotations) {
      const int e = (j - rotations) * 8;
      float v[8];
      load8(row + (int64_t)(heads + kv_heads) * d + e, v);
      store8(v_cache + slot_base + e, v);
      continue;
    }
    const int h = j / per_head, i = (j % per_head) * 8;
    T* head = row + (int64_t)h * d;
    float x1[8], x2[8], c1[8], c2[8], s1[8], s2[8], r1[8], r2[8];
    load8(head + i, x1);
    load8(head + half + i, x2);
    load8(c + i, c1);
    load8(c + half + i, c2);
    load8(s + i, s1);
    load8(s + half + i, s2);
#pragma unroll
    for (int e = 0; e < 8; e++) {
      r1[e] = rope_first(x1[e], x2[e], c1[e], s1[e]);
      r2[e] = rope_second(x1[e], x2[e], c2[e], s2[e]);
    }
    store8(head + i, r1);
    store8(head + half + i, r2);
    if (h >= heads) {
      T* dst = k_cache + slot_base + (int64_t)(h - heads) * d;
      store8(dst + i, r1);
      store8(dst + half + i, r2);
    }
  }
}

template <typename T>
__global__ void silu_mul_kernel(T* out, const T* gu, int inter, int64_t n) {
  pdl_start();
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = k / inter, i = k % inter;
    const float g = to_f(gu[t * 2 * inter + i]);
    const float u = to_f(gu[t * 2 * inter + inter + i]);
    out[k] = from_f<T>(silu_mul<T>(g, u));
  }
}

// silu_mul_kernel over 8-element vectors (inter % 8 == 0, 16-byte aligned rows).
template <typename T>
__global__ void silu_mul_vec_kernel(T* out, const T* gu, int inter, int64_t vectors) {
  pdl_start();
  const int per_row = inter / 8;
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < vectors; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = k / per_row, i = (k % per_row) * 8;
    float g[8], u[8], o[8];
    load8(gu + t * 2 * inter + i, g);
    load8(gu + t * 2 * inter + inter + i, u);
#pragma unroll
    for (int e = 0; e < 8; e++) o[e] = silu_mul<T>(g[e], u[e]);
    store8(out + t * inter + i, o);
  }
}

template <typename T> struct RmsNorm {
  static cudaError_t run(void* out, const void* x, const void* w, int rows, int hidden, int64_t xs, int64_t os, float eps, cudaStream_t st) {
    cudaError_t err;
    if (try_rms_norm_vec<T, false>(err, (T*)out, (T*)x, nullptr, (const T*)w, rows, hidden, xs, 0, os, eps, st)) return err;
    launch_pdl(rms_norm_kernel<T>, dim3(rows), dim3(256), 0, st, (T*)out, (const T*)x, (const T*)w, hidden, xs, os, eps);
    return cudaGetLastError();
  }
};
template <typename T> struct AddRmsNorm {
  static cudaError_t run(void* out, void* res, const void* delta, const void* w, int rows, int hidden, int64_t rs, int64_t ds, int64_t os, float eps, cudaStream_t st) {
    cudaError_t err;
    if (try_rms_norm_vec<T, true>(err, (T*)out, (T*)res, (const T*)delta, (const T*)w, rows, hidden, rs, ds, os, eps, st)) return err;
    launch_pdl(add_rms_norm_kernel<T>, dim3(rows), dim3(256), 0, st, (T*)out, (T*)res, (const T*)delta, (const T*)w, hidden, rs, ds, os, eps);
    return cudaGetLastError();
  }
};
template <typename T> struct RotaryCache {
  static cudaError_t run(void* qkv, const int64_t* pos, const float* c, const float* s, int tokens, int heads, int kv_heads, int d, int64_t stride,
                         void* kc, void* vc, const int64_t* slots, cudaStream_t st) {
    const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
    if (d % 16 == 0 && stride % 8 == 0 && aligned(qkv) && aligned(kc) && aligned(vc) && aligned(c) && aligned(s)) {
      launch_pdl(rotary_cache_vec_kernel<T>, dim3(tokens), dim3(128), 0, st, (T*)qkv, pos, c, s, heads, kv_heads, d, stride, (T*)kc, (T*)vc, slots);
      return cudaGetLastError();
    }
    launch_pdl(rotary_cache_kernel<T>, dim3(tokens), dim3(256), 0, st, (T*)qkv, pos, c, s, heads, kv_heads, d, stride, (T*)kc, (T*)vc, slots);
    return cudaGetLastError();
  }
};
template <typename T> struct SiluMul {
  static cudaError_t run(void* out, const void* gu, int tokens, int inter, cudaStream_t st) {
    const int64_t n = (int64_t)tokens * inter;
    if (inter % 8 == 0 && reinterpret_cast<uintptr_t>(gu) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0) {
      const int64_t vectors = n / 8;
      const int blocks = (int)((vectors + 255) / 256 < 65535 ? (vectors + 255) / 256 : 65535);
      launch_pdl(silu_mul_vec_kernel<T>, dim3(blocks), dim3(256), 0, st, (T*)out, (const T*)gu, inter, vectors);
      return cudaGetLastError();
    }
    const int blocks = (int)((n + 255) / 256 < 65535 ? (n + 255) / 256 : 65535);
    launch_pdl(silu_mul_kernel<T>, dim3(blocks), dim3(256), 0, st, (T*)out, (const T*)gu, inter, n);
    return cudaGetLastError();
  }
};

}  // namespace

cudaError_t launch_rms_norm(int dtype, void* out, const void* x, const void* weight, int rows, int hidden,
                            int64_t x_stride, int64_t out_stride, float eps, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return dispatch_dtype<RmsNorm>(dtype, out, x, weight, rows, hidden, x_stride, out_stride, eps, stream);
}

cudaError_t launch_add_rms_norm(int dtype, void* out, void* residual, const void* delta, const void* weight, int rows, int hidden,
                                int64_t residual_stride, int64_t delta_stride, int64_t out_stride, float eps, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  return dispatch_dtype<AddRmsNorm>(dtype, out, residual, delta, weight, rows, hidden, residual_stride, delta_stride, out_stride, eps, stream);
}

cudaError_t launch_rotary_qk_cache(int dtype, void* qkv, const int64_t* positions, const float* cos, const float* sin, int tokens,
                                   int heads, int kv_heads, int head_dim, int64_t qkv_stride, void* k_cache, void* v_cache,
                                   const int64_t* slots, cudaStream_t stream) {
  if (tokens == 0) return cudaSuccess;
  return dispatch_dtype<RotaryCache>(dtype, qkv, positions, cos, sin, tokens, heads, kv_heads, head_dim, qkv_stride, k_cache, v_cache, slots, stream);
}

cudaError_t launch_silu_mul(int dtype, void* out, const void* gate_up, int tokens, int inter, cudaStream_t stream) {
  if (tokens == 0) return cudaSuccess;
  return dispatch_dtype<SiluMul>(dtype, out, gate_up, tokens, inter, stream);
}
