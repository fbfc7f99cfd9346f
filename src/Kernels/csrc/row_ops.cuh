// Row-wise building blocks shared by the normalisation and quantisation kernels: 16-byte vector loads/stores of 8
// elements, block- and cluster-wide reductions, a row spread over a block's registers (or a cluster's, a slice per
// block), RMSNorm of one row held there, and the launcher that picks one block or a cluster per row.
#pragma once
#include <cooperative_groups.h>
#include <cstdint>
#include <type_traits>
#include "dtype_convert.cuh"
#include "pdl.cuh"

// 8 elements from/to memory as float; 16-bit types move as one 16-byte access, float32 as two.
__device__ inline void load8(const float* p, float (&f)[8]) {
  const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}
template <typename T>
__device__ inline void load8(const T* p, float (&f)[8]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const T* h = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int e = 0; e < 8; e++) f[e] = to_f(h[e]);
}
__device__ inline void store8(float* p, const float (&f)[8]) {
  reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
  reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
}
template <typename T>
__device__ inline void store8(T* p, const float (&f)[8]) {
  uint4 raw;
  T* h = reinterpret_cast<T*>(&raw);
#pragma unroll
  for (int e = 0; e < 8; e++) h[e] = from_f<T>(f[e]);
  *reinterpret_cast<uint4*>(p) = raw;
}

// Sum (or max) of v over the block of Threads threads; every thread gets the result.
template <int Threads, bool Max>
__device__ inline float block_reduce(float v) {
  __shared__ float part[Threads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = Max ? fmaxf(v, other) : v + other;
  }
  __syncthreads();  // part[] may still be read by a previous reduction
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  float r = part[0];
#pragma unroll
  for (int i = 1; i < Threads / 32; i++) r = Max ? fmaxf(r, part[i]) : r + part[i];
  return r;
}

// Sum (or max) of v over a thread-block cluster of Blocks blocks of Threads threads (compute capability 9.0+, and the
// kernel emulator of tests/Kernels.Tests; a block_reduce below that, where no cluster is ever launched); every thread
// gets the result, summed in rank order. Ends with a cluster barrier, so no block leaves or reuses the slot while
// another still reads it.
template <int Threads, int Blocks, bool Max>
__device__ inline float cluster_reduce(float v) {
  const float mine = block_reduce<Threads, Max>(v);
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(SIMT_EMULATOR)
  namespace cg = cooperative_groups;
  __shared__ float slot;
  if (threadIdx.x == 0) slot = mine;
  cg::this_cluster().sync();
  float r = *cg::this_cluster().map_shared_rank(&slot, 0);
  for (int i = 1; i < Blocks; i++) {
    const float other = *cg::this_cluster().map_shared_rank(&slot, i);
    r = Max ? fmaxf(r, other) : r + other;
  }
  cg::this_cluster().sync();
  return r;
#else
  return mine;
#endif
}

// Few rows wider than a block holds in 4 vectors per thread (a decode step's 14336-wide silu(gate)·up, or the hidden
// rows of the widest models): one block per row would leave most SMs idle and put the whole row's loads on one SM,
// so a cluster of kRowClusterBlocks blocks shares each row (on Hopper, up to kRowClusterMaxRows rows). Returns the
// blocks per row for `rows` rows of `width` elements and blocks of `threads` threads.
constexpr int kRowClusterBlocks = 8, kRowClusterMaxRows = 16;
inline int row_cluster_blocks(int rows, int width, int threads) {
  return rows <= kRowClusterMaxRows && width > 4 * 8 * threads && device_cc_major() >= 9 ? kRowClusterBlocks : 1;
}

// The slice [x, y) of a row of `width` elements that this block holds when Cluster consecutive blocks share each row
// (equal multiples of 8 elements; the whole row when Cluster is 1).
template <int Cluster>
__device__ inline int2 cluster_slice(int width) {
  if (Cluster == 1) return make_int2(0, width);
  const int slice = (width + 8 * Cluster - 1) / (8 * Cluster) * 8, begin = (int)(blockIdx.x % Cluster) * slice;
  return make_int2(begin, min(width, begin + slice));
}

// The vectorised row kernels take rows whose width is a multiple of 8, at most 8·Threads·16 (16 vectors per thread),
// with 16-byte aligned rows; anything else takes the scalar kernels.
inline bool vector_rows_ok(int width, int threads, const void* p, int64_t row_stride) {
  return width % 8 == 0 && width <= 8 * threads * 16 && reinterpret_cast<uintptr_t>(p) % 16 == 0 && row_stride % 8 == 0;
}

// launch(std::integral_constant<int, V>{}) for the fewest vectors per thread V in {1, 2, 4, 8, 16} that hold
// `vectors` (at most 16): how the row kernels pick their register-resident instantiation.
template <typename Launch>
void with_vectors_per_thread(int vectors, Launch launch) {
  if (vectors <= 1) launch(std::integral_constant<int, 1>{});
  else if (vectors <= 2) launch(std::integral_constant<int, 2>{});
  else if (vectors <= 4) launch(std::integral_constant<int, 4>{});
  else if (vectors <= 8) launch(std::integral_constant<int, 8>{});
  else launch(std::integral_constant<int, 16>{});
}

// Launches the row kernel pick(V, Cluster) returns over `rows` rows of `width` in blocks of Threads threads: one block
// per row, or a cluster of kRowClusterBlocks blocks for few wide rows (row_cluster_blocks); V is the fewest vectors per
// thread that hold a block's share of a row. The caller has checked the rows with vector_rows_ok.
template <int Threads, typename Pick, typename... Args>
void launch_row_kernel(Pick pick, int rows, int width, cudaStream_t st, Args... args) {
  const int cluster = row_cluster_blocks(rows, width, Threads);
  static_assert(16 <= kRowClusterBlocks * 2, "vector_rows_ok's widest row is at most 2 vectors per thread in each block of a cluster");
  with_vectors_per_thread((width + 8 * Threads * cluster - 1) / (8 * Threads * cluster), [&](auto V) {
    constexpr int v = decltype(V)::value;
    if (cluster == 1) launch_pdl(pick(V, std::integral_constant<int, 1>{}), dim3(rows), dim3(Threads), 0, st, args...);
    else if constexpr (v <= 2)
      launch_pdl_cluster(pick(V, std::integral_constant<int, kRowClusterBlocks>{}), dim3(rows * cluster), dim3(Threads), 0, st, cluster, args...);
  });
}

// Fills this thread's V 8-element vectors of the row elements [begin, end) (vector j of thread t holds elements
// begin + (t + j·Threads)·8 .. + 7): fill(i, o[j]) for the vectors that start before `end`, zeros for the others.
template <int V, int Threads, typename Fill>
__device__ inline void fill_row_vectors(float (&o)[V][8], int begin, int end, Fill fill) {
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int i = begin + (threadIdx.x + j * Threads) * 8;
    if (i < end) {
      fill(i, o[j]);
    } else {
#pragma unroll
      for (int e = 0; e < 8; e++) o[j][e] = 0.f;
    }
  }
}

// RMSNorm of one row into registers, V 8-element vectors per thread over this block's slice [begin, end) of the row
// (vector j of thread t is elements begin + (t + j·Threads)·8..): o = T(T(x·rsqrt(mean x² + eps))·w), rounded as HF
// does. With Add, x = T(residual + delta) is first written back to the residual row (x then points at it). Elements
// outside the slice are 0. With Cluster > 1 the row is shared by that many blocks (cluster_slice), whose sums of
// squares meet across the cluster.
template <typename T, int V, int Threads, bool Add, int Cluster = 1>
__device__ inline void rms_norm_row(float (&o)[V][8], T* x, const T* delta, const T* w, int hidden, float eps, int begin, int end) {
  float ss = 0.f;
  fill_row_vectors<V, Threads>(o, begin, end, [&](int i, float (&v)[8]) {
    load8(x + i, v);
    if (Add) {
      float d[8];
      load8(delta + i, d);
#pragma unroll
      for (int e = 0; e < 8; e++) v[e] = to_f(from_f<T>(v[e] + d[e]));
      store8(x + i, v);
    }
#pragma unroll
    for (int e = 0; e < 8; e++) ss += v[e] * v[e];
  });
  // The weights do not depend on the sum: with up to 4 vectors per thread (rows up to 8192) they are loaded before
  // the reduction, so their latency overlaps it instead of following it (wider rows would spill).
  constexpr bool kEarly = V <= 4;
  float wf[kEarly ? V : 1][8];
  if constexpr (kEarly) {
#pragma unroll
    for (int j = 0; j < V; j++) {
      const int i = begin + (threadIdx.x + j * Threads) * 8;
      if (i < end) load8(w + i, wf[j]);
    }
  }
  const float sum = Cluster > 1 ? cluster_reduce<Threads, Cluster, false>(ss) : block_reduce<Threads, false>(ss);
  const float inv = rsqrtf(sum / hidden + eps);
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int i = begin + (threadIdx.x + j * Threads) * 8;
    if (i >= end) continue;
    float (&wj)[8] = wf[kEarly ? j : 0];
    if constexpr (!kEarly) load8(w + i, wj);
#pragma unroll
    for (int e = 0; e < 8; e++) o[j][e] = to_f(from_f<T>(to_f(from_f<T>(o[j][e] * inv)) * wj[e]));
  }
}

// silu(g)·u as HF computes it in T: silu(g) rounded to T, then the product in float (which the caller rounds to T).
template <typename T>
__device__ __forceinline__ float silu_mul(float g, float u) {
  return to_f(from_f<T>(g / (1.f + __expf(-g)))) * u;
}
