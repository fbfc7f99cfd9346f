// Hopper (sm_90a) building blocks of the TMA + wgmma INT8 GEMMs: warpgroup MMA on shared-memory operands,
// mbarriers, tensor-memory-accelerator (TMA) copies, and the host side of TMA tensor maps.
// Device code exists only where IK_DEVICE_WGMMA is defined (sm_90a); each kernel asks int8_gemm_sm90_available()
// first (int8_gemm.h).
#pragma once
#include <cuda.h>  // CUtensorMap and cuTensorMapEncodeTiled's types (the function comes from the runtime: no libcuda link)
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <cstdint>
#include "mma.cuh"
#include "pdl.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define IK_DEVICE_WGMMA 1
#endif

// Operand tiles are [rows, 128 B] slices of K-major int8 matrices, written by TMA with the 128-byte swizzle.
constexpr int kSliceBytes = 128;

// Shared-memory matrix descriptor of a K-major tile with 128-byte swizzle: start address, stride between 8-row core
// groups (1024 B), swizzle mode 1 (128 B) in bits 62–63; the leading offset is unused for this layout.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
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

// Split-K over a thread-block cluster of `split` blocks (1: a single block): each block has written its partial sums of
// the tile to its own shared memory, part[m·Pitch + ch] for token m and channel ch < Rows. Block `rank` finishes the
// elements e = m·Rows + ch in [rank·chunk, rank·chunk + chunk) of the tokens·Rows real ones (consecutive threads take
// consecutive channels), reading every block's partial at once through distributed shared memory (one round trip per
// element, not `split`), and calls finish(m, n, Σ partials) for the channels n = n0 + ch below N.
template <int MaxSplit, int Rows, int Pitch, int Threads, typename P, typename Finish>
__device__ __forceinline__ void cluster_sum_partials(const P* part, int split, int rank, int tokens, int n0, int N, Finish finish) {
  namespace cg = cooperative_groups;
  if (split > 1) cg::this_cluster().sync();
  else __syncthreads();
  const P* parts[MaxSplit];
#pragma unroll
  for (int r = 0; r < MaxSplit; r++) parts[r] = split > 1 && r < split ? cg::this_cluster().map_shared_rank(part, r) : part;
  const int total = tokens * Rows, chunk = (total + split - 1) / split, end = min(total, (rank + 1) * chunk);
  for (int e = rank * chunk + threadIdx.x; e < end; e += Threads) {
    const int m = e / Rows, ch = e % Rows, n = n0 + ch;
    if (n >= N) continue;
    const int at = m * Pitch + ch;
    P sum = 0;
#pragma unroll
    for (int r = 0; r < MaxSplit; r++) sum += r < split ? parts[r][at] : P(0);
    finish(m, n, sum);
  }
  if (split > 1) cg::this_cluster().sync();  // no block may leave while another still reads its partial sums
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }

// A warpgroup's register budget: the producer gives most of its registers to the consumers' accumulators.
template <int R>
__device__ __forceinline__ void regs_down() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R)); }
template <int R>
__device__ __forceinline__ void regs_up() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R)); }

// mbarriers in shared memory: a phase completes when `count` arrivals and all expected transaction bytes are in.
__device__ __forceinline__ void bar_init(uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void bar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void bar_arrive_expect_bytes(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes) : "memory");
}
// After initialising mbarriers, before any TMA copy signals them.
__device__ __forceinline__ void bar_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
// Spins until the phase of the given parity (0 for the first, 1 for the second, ...) has completed.
__device__ __forceinline__ void bar_wait(uint64_t* bar, int parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(smem_addr(bar)),
      "r"(parity)
      : "memory");
}

// Hardware barrier `id` (1–15; 0 is __syncthreads) among `threads` threads of the block, a multiple of 32.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// TMA: the box at (column c0, row c1; in elements of the map's type) of the tensor `map` describes, into shared memory at dst; the bytes
// count towards bar's expected transactions.
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, int c0, int c1, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(smem_addr(bar))
      : "memory");
}

// TMA of a 3-d box at coordinates (c0, c1, c2), innermost first.
__device__ __forceinline__ void tma_load_3d(void* dst, const CUtensorMap* map, int c0, int c1, int c2, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(
          smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(smem_addr(bar))
      : "memory");
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

// D[64×N] += A[64×32] · B[32×N] (s8 × s8 → s32), A = 64 rows and B = N rows of K-major tiles in shared memory.
// Lane layout of d: warp w of the warpgroup holds rows 16w..16w+15; d[4j + 0/1] = (row 16w + g, cols 8j + 2t, +1),
// d[4j + 2/3] = (row + 8, same), for lane 4g + t.
template <int N>
__device__ __forceinline__ void wgmma_s8(int (&d)[N / 2], uint64_t da, uint64_t db);
template <>
__device__ __forceinline__ void wgmma_s8<16>(int (&d)[8], uint64_t da, uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n16k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, 1;\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7])
               : "l"(da), "l"(db));
}
template <>
__device__ __forceinline__ void wgmma_s8<32>(int (&d)[16], uint64_t da, uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n32k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, 1;\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15])
               : "l"(da), "l"(db));
}
template <>
__device__ __forceinline__ void wgmma_s8<128>(int (&d)[64], uint64_t da, uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1;\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
               : "l"(da), "l"(db));
}
template <>
__device__ __forceinline__ void wgmma_s8<192>(int (&d)[96], uint64_t da, uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n192k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95}, %96, %97, 1;\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]), "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]), "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]), "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]), "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95])
               : "l"(da), "l"(db));
}
template <>
__device__ __forceinline__ void wgmma_s8<256>(int (&d)[128], uint64_t da, uint64_t db) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, 1;\n"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]), "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]), "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]), "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]), "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]), "+r"(d[96]), "+r"(d[97]), "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]), "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]), "+r"(d[110]), "+r"(d[111]), "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]), "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]), "+r"(d[120]), "+r"(d[121]), "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
               : "l"(da), "l"(db));
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

inline int sm_count() {
  static const int count = [] {
    int dev = 0, n = 0;
    cudaGetDevice(&dev);
    return cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess ? n : 132;
  }();
  return count;
}
