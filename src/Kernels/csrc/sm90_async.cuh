// Hopper (sm_90a) building blocks of the TMA + wgmma GEMMs: shared-memory operand descriptors, the staged
// producer/consumer pipeline on mbarriers, the split-K cluster epilogue, and the host side of TMA tensor maps (the PTX
// they use is in ptx_sm90.cuh). Device code exists only where IK_DEVICE_WGMMA is defined (sm_90a); each kernel asks
// int8_gemm_sm90_available() first (int8_gemm.h).
#pragma once
#include <cuda.h>  // CUtensorMap and cuTensorMapEncodeTiled's types (the function comes from the runtime: no libcuda link)
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <cstdint>
#include <type_traits>
#include "mma.cuh"
#include "pdl.cuh"
#include "ptx_sm90.cuh"

// Operand tiles are [rows, 128 B] slices of K-major int8 matrices, written by TMA with the 128-byte swizzle.
constexpr int kSliceBytes = 128;

// Shared-memory matrix descriptor of a K-major tile with 128-byte swizzle: start address, stride between 8-row core
// groups (1024 B), swizzle mode 1 (128 B) in bits 62–63; the leading offset is unused for this layout.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}
// The descriptor of the tile `bytes` (a multiple of 16) past the one `desc` describes: the start address is the low
// field, in 16-byte units, and shared memory's 228 KiB keep it below its 14 bits, so a 32-bit add to the low word
// does not carry out of it; the high word stays the layout's constant (a 64-bit add here costs the consumer warps
// several instructions per MMA).
__device__ __forceinline__ uint64_t smem_desc_at(uint64_t desc, uint32_t bytes) {
  return (desc & 0xFFFFFFFF00000000ull) | (uint32_t)((uint32_t)desc + (bytes >> 4));
}

#ifdef IK_DEVICE_WGMMA
// A consumer warp's m64nMT accumulator share into shared memory as part[token·Pitch + channel]: lane (g, t) holds
// channels ch and ch + 8 (ch = its warp's 16 channels + g) for tokens 8j + 2t + e in acc[4j + e] and acc[4j + 2 + e].
template <int MT, int Pitch, typename P>
__device__ __forceinline__ void store_partials(P* part, const P (&acc)[MT / 2], int ch, int t) {
#pragma unroll
  for (int j = 0; j < MT / 8; j++)
#pragma unroll
    for (int e = 0; e < 2; e++) {
      const int m = 8 * j + 2 * t + e;
      part[m * Pitch + ch] = acc[4 * j + e];
      part[m * Pitch + ch + 8] = acc[4 * j + 2 + e];
    }
}

// f(std::integral_constant<int, n>) for a runtime n in [1, Max] (below 1: as 1).
template <int Max, typename F>
__device__ __forceinline__ void with_count(int n, F&& f) {
  if constexpr (Max > 1)
    if (n < Max) return with_count<Max - 1>(n, f);
  f(std::integral_constant<int, Max>{});
}

// Split-K over a thread-block cluster of `split` blocks (1: a single block): each block has written its partial sums of
// the tile to its own shared memory, part[m·Pitch + ch] for token m and channel ch < Rows. Block `rank` finishes the
// elements e = m·Rows + ch in [rank·chunk, rank·chunk + chunk) of the tokens·Rows real ones (consecutive threads take
// consecutive channels), reading every block's partial at once through distributed shared memory (one round trip per
// element, not `split`), and calls finish(m, n, Σ partials) for the channels n = n0 + ch below N. The loop is compiled
// once per split, so that a block reads only the partials that exist. Threads: the block's first threads that take
// part; with split > 1 it must be the whole block (the cluster barrier counts every thread).
template <int MaxSplit, int Rows, int Pitch, int Threads, typename P, typename Finish>
__device__ __forceinline__ void cluster_sum_partials(const P* part, int split, int rank, int tokens, int n0, int N, Finish finish) {
  namespace cg = cooperative_groups;
  if (split > 1) cg::this_cluster().sync();
  else named_barrier_sync(2, Threads);
  const int total = tokens * Rows, chunk = (total + split - 1) / split, end = min(total, (rank + 1) * chunk);
  auto sum_over = [&](auto blocks) {
    constexpr int S = decltype(blocks)::value;
    const P* parts[S];
#pragma unroll
    for (int r = 0; r < S; r++) parts[r] = S > 1 ? cg::this_cluster().map_shared_rank(part, r) : part;
    for (int e = rank * chunk + threadIdx.x; e < end; e += Threads) {
      const int m = e / Rows, ch = e % Rows, n = n0 + ch;
      if (n >= N) continue;
      const int at = m * Pitch + ch;
      P sum = 0;
#pragma unroll
      for (int r = 0; r < S; r++) sum += parts[r][at];
      finish(m, n, sum);
    }
  };
  with_count<MaxSplit>(split, sum_over);
  if (split > 1) cg::this_cluster().sync();  // no block may leave while another still reads its partial sums
}

// The start of a dynamic shared-memory buffer rounded up to 1024 bytes, where the 128-byte swizzle pattern repeats.
__device__ __forceinline__ uint8_t* swizzle_aligned(uint8_t* raw) { return raw + ((1024 - (smem_addr(raw) & 1023)) & 1023); }

// Thread 0 initialises each stage's full barrier (one arrival: the producer's, plus the TMA bytes) and empty barrier
// (one arrival per consumer warp); then the whole block meets.
__device__ inline void init_stage_barriers(uint64_t* full, uint64_t* empty, int stages, int consumer_warps) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; s++) {
      bar_init(&full[s], 1);
      bar_init(&empty[s], consumer_warps);
    }
    bar_init_fence();
  }
  __syncthreads();
}

// The producer thread's loop over `count` K slices through `stages` buffers of `stage_bytes`. Launched
// programmatically, the weights of the first `prefetch` stages (load_w(i, stage, bar)) need nothing from the kernel
// before, so they are in flight before the wait (wait()); then each slice's activations (load_x) follow, and the
// remaining weights as stages are free.
template <typename Wait, typename LoadW, typename LoadX>
__device__ void produce_slices(uint64_t* full, uint64_t* empty, int stages, int count, uint32_t stage_bytes, Wait wait, LoadW load_w,
                               LoadX load_x, int prefetch) {
  const int early = min(min(stages, prefetch), count);
  for (int i = 0; i < early; i++) {
    bar_arrive_expect_bytes(&full[i], stage_bytes);  // whole boxes count, zero-filled parts included
    load_w(i, i, &full[i]);
  }
  wait();
  for (int i = 0; i < count; i++) {
    const int s = i % stages;
    if (i >= early) {
      bar_wait(&empty[s], (i / stages - 1) & 1);  // its previous use is consumed
      bar_arrive_expect_bytes(&full[s], stage_bytes);
      load_w(i, s, &full[s]);
    }
    load_x(i, s, &full[s]);
  }
}

// The consumer warpgroup's side of produce_slices: for each of `count` K slices, waits for its stage, adds
// A[64 rows at a_offset] · B[N rows at b_offset] of the stage (offsets in bytes from the stage's start; stage s at
// smem + s·stage_bytes) into acc, and hands the previous slice's stage back once this warp's MMAs on it are done.
// Returns with every MMA complete.
template <int N>
__device__ void consume_slices(int (&acc)[N / 2], const uint8_t* smem, int stage_bytes, int a_offset, int b_offset, uint64_t* full,
                               uint64_t* empty, int stages, int count) {
  for (int i = 0; i < count; i++) {
    const int s = i % stages;
    bar_wait(&full[s], (i / stages) & 1);
    const uint32_t stage = smem_addr(smem + s * stage_bytes), a = stage + a_offset, b = stage + b_offset;
    wgmma_fence();
#pragma unroll
    for (int j = 0; j < kSliceBytes / 32; j++) wgmma_s8<N>(acc, smem_desc(a + 32 * j), smem_desc(b + 32 * j));
    wgmma_commit();
    wgmma_wait<1>();  // this warp's MMAs of the previous slice are done: hand its stage back
    if (i > 0 && threadIdx.x % 32 == 0) bar_arrive(&empty[(i - 1) % stages]);
  }
  wgmma_wait<0>();
}
#endif

// cuTensorMapEncodeTiled, looked up once through the runtime (so the library needs no link to the driver library).
using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*, const cuuint64_t*,
                                 const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                 CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
inline EncodeTiled encode_tiled() {
  static const EncodeTiled fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found{};
#if CUDART_VERSION >= 12050
    const cudaError_t err = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &found);
#else
    const cudaError_t err = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &p, cudaEnableDefault, &found);
#endif
    return err == cudaSuccess && found == cudaDriverEntryPointSuccess ? reinterpret_cast<EncodeTiled>(p) : nullptr;
  }();
  return fn;
}

// Whether x [m, k] (rows ldx bytes apart) and w [n, k] can be TMA operands: non-empty, K a whole number of 16-byte
// pieces, 16-byte aligned bases and row strides.
inline bool tma_operands_ok(const int8_t* x, const int8_t* w, int m, int n, int k, int64_t ldx) {
  return m >= 1 && n >= 1 && k >= 16 && k % 16 == 0 && ldx % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

// A [rows, cols] matrix of 1- or 2-byte elements (rows `ld` bytes apart) as [box_rows, box_bytes] boxes with the given
// swizzle, zeros outside.
inline bool tile_map_2d(CUtensorMap* map, const void* base, bool two_byte, int rows, int64_t cols, int64_t ld, int box_bytes,
                        int box_rows, CUtensorMapSwizzle swizzle) {
  const EncodeTiled encode = encode_tiled();
  if (encode == nullptr) return false;
  const int elem = two_byte ? 2 : 1;
  const cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)rows};
  const cuuint64_t strides[1] = {(cuuint64_t)ld};
  const cuuint32_t box[2] = {(cuuint32_t)(box_bytes / elem), (cuuint32_t)box_rows};
  const cuuint32_t unit[2] = {1, 1};
  return encode(map, two_byte ? CU_TENSOR_MAP_DATA_TYPE_UINT16 : CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<void*>(base), dims,
                strides, box, unit, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// A contiguous uint32 tensor [d2, d1, d0] as [b2, b1, b0] boxes, unswizzled, zeros outside.
inline bool tile_map_3d_u32(CUtensorMap* map, const void* base, int64_t d0, int64_t d1, int64_t d2, int b0, int b1, int b2) {
  const EncodeTiled encode = encode_tiled();
  if (encode == nullptr) return false;
  const cuuint64_t dims[3] = {(cuuint64_t)d0, (cuuint64_t)d1, (cuuint64_t)d2};
  const cuuint64_t strides[2] = {(cuuint64_t)(d0 * 4), (cuuint64_t)(d0 * d1 * 4)};
  const cuuint32_t box[3] = {(cuuint32_t)b0, (cuuint32_t)b1, (cuuint32_t)b2};
  const cuuint32_t unit[3] = {1, 1, 1};
  return encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT32, 3, const_cast<void*>(base), dims, strides, box, unit, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// An int8 [rows, cols] matrix with rows `ld` bytes apart as [box_rows, kSliceBytes] boxes, 128-byte swizzled, zeros outside.
inline bool tile_map(CUtensorMap* map, const int8_t* base, int rows, int cols, int64_t ld, int box_rows) {
  return tile_map_2d(map, base, false, rows, cols, ld, kSliceBytes, box_rows, CU_TENSOR_MAP_SWIZZLE_128B);
}

