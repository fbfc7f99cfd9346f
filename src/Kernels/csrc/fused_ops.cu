#include "fused_ops.h"
#include "dtype_convert.cuh"

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

// One block per row.
template <typename T>
__global__ void rms_norm_kernel(T* out, const T* x, const T* w, int hidden, int64_t xs, int64_t os, float eps) {
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
    const T r1 = from_f<T>(x1 * c[i] - x2 * s[i]);
    const T r2 = from_f<T>(x2 * c[i + half] + x1 * s[i + half]);
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

template <typename T>
__global__ void silu_mul_kernel(T* out, const T* gu, int inter, int64_t n) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = k / inter, i = k % inter;
    const float g = to_f(gu[t * 2 * inter + i]);
    const float u = to_f(gu[t * 2 * inter + inter + i]);
    // HF rounds silu(g) to T before the multiply.
    out[k] = from_f<T>(to_f(from_f<T>(g / (1.f + __expf(-g)))) * u);
  }
}

template <typename T> struct RmsNorm {
  static cudaError_t run(void* out, const void* x, const void* w, int rows, int hidden, int64_t xs, int64_t os, float eps, cudaStream_t st) {
    rms_norm_kernel<T><<<rows, 256, 0, st>>>((T*)out, (const T*)x, (const T*)w, hidden, xs, os, eps);
    return cudaGetLastError();
  }
};
template <typename T> struct AddRmsNorm {
  static cudaError_t run(void* out, void* res, const void* delta, const void* w, int rows, int hidden, int64_t rs, int64_t ds, int64_t os, float eps, cudaStream_t st) {
    add_rms_norm_kernel<T><<<rows, 256, 0, st>>>((T*)out, (T*)res, (const T*)delta, (const T*)w, hidden, rs, ds, os, eps);
    return cudaGetLastError();
  }
};
template <typename T> struct RotaryCache {
  static cudaError_t run(void* qkv, const int64_t* pos, const float* c, const float* s, int tokens, int heads, int kv_heads, int d, int64_t stride,
                         void* kc, void* vc, const int64_t* slots, cudaStream_t st) {
    rotary_cache_kernel<T><<<tokens, 256, 0, st>>>((T*)qkv, pos, c, s, heads, kv_heads, d, stride, (T*)kc, (T*)vc, slots);
    return cudaGetLastError();
  }
};
template <typename T> struct SiluMul {
  static cudaError_t run(void* out, const void* gu, int tokens, int inter, cudaStream_t st) {
    const int64_t n = (int64_t)tokens * inter;
    const int blocks = (int)((n + 255) / 256 < 65535 ? (n + 255) / 256 : 65535);
    silu_mul_kernel<T><<<blocks, 256, 0, st>>>((T*)out, (const T*)gu, inter, n);
    return cudaGetLastError();
  }
};

}  // namespace

cudaError_t launch_rms_norm(int dtype, void* out, const void* x, const void* weight, int rows, int hidden,
                            int64_t x_stride, int64_t out_stride, float eps, cudaStream_t stream) {
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
  return dispatch_dtype<SiluMul>(dtype, out, gate_up, tokens, inter, stream);
}
