// Paged decode attention with an online softmax (flash-decoding inside one thread block): no per-token scratch,
// so any context length works and the launch shape does not depend on it (a requirement for CUDA graphs).
// Grid: (B, H). Block: kWarps warps. Warp w takes tokens w, w+kWarps, ...; lane l owns dims l, l+32, ... (D <= 256).
#include "paged_attention.h"
#include "dtype_convert.cuh"
#include <cfloat>

namespace {

constexpr int kWarps = 16;  // 512 threads: at batch 1 only H blocks run, so each needs many warps in flight
constexpr int kMaxPerLane = 8;  // head_dim <= 256


template <typename T>
__global__ void paged_decode_kernel(T* __restrict__ out, const T* __restrict__ q, const T* __restrict__ k_cache,
                                    const T* __restrict__ v_cache, const int32_t* __restrict__ tables,
                                    const int32_t* __restrict__ lens, int heads, int kv_heads, int head_dim,
                                    int block_size, int max_blocks, int window, float scale, int64_t q_stride_b,
                                    int64_t out_stride_b) {
  const int b = blockIdx.x, h = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int ctx = lens[b];
  const int first = (window > 0 && ctx > window) ? ctx - window : 0;
  const int kvh = h / (heads / kv_heads);
  const int64_t slot_stride = (int64_t)kv_heads * head_dim;
  const int32_t* table = tables + (int64_t)b * max_blocks;
  const T* qp = q + b * q_stride_b + (int64_t)h * head_dim;

  float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; i++) {
    int d = lane + 32 * i;
    qv[i] = d < head_dim ? to_f(qp[d]) * scale : 0.f;
    acc[i] = 0.f;
  }
  float m = -FLT_MAX, l = 0.f;  // running max and normaliser of this warp's tokens
  for (int t = first + warp; t < ctx; t += kWarps) {
    const int64_t slot = (int64_t)table[t / block_size] * block_size + t % block_size;
    const T* kp = k_cache + slot * slot_stride + (int64_t)kvh * head_dim;
    const T* vp = v_cache + slot * slot_stride + (int64_t)kvh * head_dim;
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; i++) {
      int d = lane + 32 * i;
      if (d < head_dim) s += qv[i] * to_f(kp[d]);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    const float m_new = fmaxf(m, s);
    const float correction = __expf(m - m_new);
    const float p = __expf(s - m_new);
    l = l * correction + p;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; i++) {
      int d = lane + 32 * i;
      if (d < head_dim) acc[i] = acc[i] * correction + p * to_f(vp[d]);
    }
    m = m_new;
  }

  // Combine the warps' partial softmaxes.
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_acc[kWarps][32 * kMaxPerLane];
  if (lane == 0) { sm_m[warp] = m; sm_l[warp] = l; }
#pragma unroll
  for (int i = 0; i < kMaxPerLane; i++) {
    int d = lane + 32 * i;
    if (d < head_dim) sm_acc[warp][d] = acc[i];
  }
  __syncthreads();
  float gm = -FLT_MAX;
  for (int w = 0; w < kWarps; w++) gm = fmaxf(gm, sm_m[w]);
  float gl = 0.f;
  for (int w = 0; w < kWarps; w++) gl += sm_l[w] * __expf(sm_m[w] - gm);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float o = 0.f;
    for (int w = 0; w < kWarps; w++) o += sm_acc[w][d] * __expf(sm_m[w] - gm);
    out[b * out_stride_b + (int64_t)h * head_dim + d] = from_f<T>(o / gl);
  }
}

template <typename T>
cudaError_t launch(void* out, const void* q, const void* k, const void* v, const int32_t* tables, const int32_t* lens,
                   int batch, int heads, int kv_heads, int head_dim, int block_size, int max_blocks, int window,
                   float scale, int64_t q_stride_b, int64_t out_stride_b, cudaStream_t stream) {
  dim3 grid(batch, heads);
  paged_decode_kernel<T><<<grid, kWarps * 32, 0, stream>>>(
      static_cast<T*>(out), static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), tables, lens,
      heads, kv_heads, head_dim, block_size, max_blocks, window, scale, q_stride_b, out_stride_b);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_paged_decode_attention(int dtype, void* out, const void* q, const void* k_cache, const void* v_cache,
                                          const int32_t* tables, const int32_t* lens, int batch, int heads, int kv_heads,
                                          int head_dim, int block_size, int max_blocks, int window, float scale,
                                          int64_t q_stride_b, int64_t out_stride_b, cudaStream_t stream) {
  if (head_dim > 32 * kMaxPerLane || heads % kv_heads != 0) return cudaErrorInvalidValue;
  switch (dtype) {
    case 0: return launch<float>(out, q, k_cache, v_cache, tables, lens, batch, heads, kv_heads, head_dim, block_size, max_blocks, window, scale, q_stride_b, out_stride_b, stream);
    case 1: return launch<__half>(out, q, k_cache, v_cache, tables, lens, batch, heads, kv_heads, head_dim, block_size, max_blocks, window, scale, q_stride_b, out_stride_b, stream);
    case 2: return launch<__nv_bfloat16>(out, q, k_cache, v_cache, tables, lens, batch, heads, kv_heads, head_dim, block_size, max_blocks, window, scale, q_stride_b, out_stride_b, stream);
    default: return cudaErrorInvalidValue;
  }
}
