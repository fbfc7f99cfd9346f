// Greedy sampling's argmax over each row of the logits [B, V] in two launches: parts of a row reduced by their own
// blocks, then one warp per row over the parts. A single block per row (PyTorch's reduction for a few long rows) walks
// all V = 128256 logits of Llama-3 alone. The comparison is PyTorch's (ATen's GreaterOrNan): NaN beats any number, a
// larger value beats a smaller one, and of two equal values (or two NaNs) the lower index wins, so the result is
// torch.argmax's.
#include "fused_ops.h"
#include "pdl.cuh"

namespace {

constexpr int kThreads = 256;
constexpr int kColumnsPerPart = 2048;  // about 8 logits per thread per part
constexpr int kMaxParts = 64;          // the final warp takes two parts per lane

struct Best {
  float v;
  int i;
};

// NaN and −inf from their bits: the fast-math builds may assume neither exists.
__device__ __forceinline__ bool is_nan(float v) { return (__float_as_int(v) & 0x7FFFFFFF) > 0x7F800000; }
__device__ __forceinline__ float minus_inf() { return __int_as_float((int)0xFF800000u); }

// Whether a beats b (ATen's GreaterOrNan).
__device__ __forceinline__ bool beats(const Best& a, const Best& b) {
  if (is_nan(a.v)) return !is_nan(b.v) || a.i < b.i;
  if (is_nan(b.v)) return false;
  return a.v == b.v ? a.i < b.i : a.v > b.v;
}

__device__ __forceinline__ Best warp_best(Best b) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const Best other{__shfl_xor_sync(0xFFFFFFFFu, b.v, o), __shfl_xor_sync(0xFFFFFFFFu, b.i, o)};
    if (beats(other, b)) b = other;
  }
  return b;
}

// grid (parts, rows). Part p of row r: columns [p·per_part, min(V, (p + 1)·per_part)); its best into part_v/part_i [r, p].
// An empty part leaves (−inf, V), which every column beats.
template <typename T>
__global__ void __launch_bounds__(kThreads) argmax_parts_kernel(float* part_v, int* part_i, const T* __restrict__ x, int cols, int64_t stride,
                                                                 int per_part) {
  pdl_start();
  const int row = blockIdx.y, parts = gridDim.x;
  const T* xr = x + row * stride;
  const int begin = blockIdx.x * per_part, end = min(cols, begin + per_part);
  Best best{minus_inf(), cols};
  for (int c = begin + threadIdx.x; c < end; c += kThreads) {
    const Best here{to_f(xr[c]), c};
    if (beats(here, best)) best = here;
  }
  best = warp_best(best);
  __shared__ float sm_v[kThreads / 32];
  __shared__ int sm_i[kThreads / 32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) sm_v[warp] = best.v, sm_i[warp] = best.i;
  __syncthreads();
  if (warp == 0) {
    best = lane < kThreads / 32 ? Best{sm_v[lane], sm_i[lane]} : Best{minus_inf(), cols};
    best = warp_best(best);
    if (lane == 0) part_v[row * parts + blockIdx.x] = best.v, part_i[row * parts + blockIdx.x] = best.i;
  }
}

// grid (rows), one warp: the best of the row's parts as an int64 index.
__global__ void argmax_final_kernel(int64_t* out, const float* part_v, const int* part_i, int parts, int cols) {
  pdl_start();
  const int row = blockIdx.x, lane = threadIdx.x;
  Best best{minus_inf(), cols};
  for (int p = lane; p < parts; p += 32) {
    const Best here{part_v[row * parts + p], part_i[row * parts + p]};
    if (beats(here, best)) best = here;
  }
  best = warp_best(best);
  if (lane == 0) out[row] = best.i;
}

template <typename T>
struct ArgmaxRows {
  static cudaError_t run(int64_t* out, const void* x, int rows, int cols, int64_t stride, float* part_v, int* part_i, cudaStream_t st) {
    const int parts = argmax_parts(cols), per_part = (cols + parts - 1) / parts;
    launch_pdl(argmax_parts_kernel<T>, dim3(parts, rows), dim3(kThreads), 0, st, part_v, part_i, (const T*)x, cols, stride, per_part);
    launch_pdl(argmax_final_kernel, dim3(rows), dim3(32), 0, st, out, (const float*)part_v, (const int*)part_i, parts, cols);
    return cudaGetLastError();
  }
};

}  // namespace

int argmax_parts(int cols) {
  const int parts = (cols + kColumnsPerPart - 1) / kColumnsPerPart;
  return parts < 1 ? 1 : parts > kMaxParts ? kMaxParts : parts;
}

cudaError_t launch_argmax_rows(int dtype, int64_t* out, const void* x, int rows, int cols, int64_t stride, float* part_v, int* part_i,
                               cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (cols < 1 || rows > 65535) return cudaErrorInvalidValue;
  return dispatch_dtype<ArgmaxRows>(dtype, out, x, rows, cols, stride, part_v, part_i, stream);
}
