#include "int8_epilogue.cuh"
#include "int8_gemm.h"
#include "mma.cuh"

// Hopper INT8 GEMM on warpgroup MMA (wgmma): the only INT8 tensor-core path on an H100 with more throughput than
// bf16 cuBLAS at large M (mma.sync reaches about half of it). Block tile 128×256 (INT8 needs big tiles: at 128×128
// the operand traffic from L2 alone would cap it near mma.sync's rate), two consumer warpgroups of 64×256 each (two
// m64n128k32 instructions per 32-byte K step), 128-byte K slices in shared memory with the 128-byte swizzle wgmma's
// descriptors expect, a 4-stage cp.async pipeline filled by the same threads, and the dequantizing epilogue of the
// other INT8 kernels.
// Its body exists only in sm_90a device code; int8_gemm_sm90_available() asks the device whether this build has it.
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define IK_DEVICE_WGMMA 1
#endif

namespace {

constexpr int BM = 128, BN = 256, BK = 128, STAGES = 4, THREADS = 256;
constexpr int kTileA = BM * BK, kTileB = BN * BK, kStage = kTileA + kTileB;  // 48 KiB per stage
constexpr int kSmem = STAGES * kStage + 1024;                               // + room to align to 1 KiB

// 16-byte chunk c of row r in a [rows, 128 B] tile with the 128-byte swizzle: chunk index XOR (row mod 8).
__device__ __forceinline__ int swz128(int r, int c) { return r * 128 + ((c ^ (r & 7)) << 4); }

// Shared-memory matrix descriptor of a K-major tile with 128-byte swizzle: start address, stride between 8-row core
// groups (1024 B), swizzle mode 1 (128 B) in bits 62–63; the leading offset is unused for this layout.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

#ifdef IK_DEVICE_WGMMA
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// D[64×128] += A[64×32] · B[32×128] (s8 × s8 → s32), A and B from shared memory. Lane layout of d: warp w of the
// warpgroup holds rows 16w..16w+15; d[4j + 0/1] = (row 16w + g, cols 8j + 2t, +1), d[4j + 2/3] = (row + 8, same).
__device__ __forceinline__ void wgmma_s8_m64n128k32(int (&d)[64], uint64_t da, uint64_t db) {
  asm volatile(
      "{\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, 1;\n"
      "}\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]), "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
      : "l"(da), "l"(db));
}
#endif

template <typename OutT>
__global__ void __launch_bounds__(THREADS, 1) int8_gemm_sm90_kernel(OutT* __restrict__ y, const int8_t* __restrict__ x,
                                                                    const int8_t* __restrict__ w, const float* __restrict__ xs,
                                                                    const float* __restrict__ ws, const OutT* __restrict__ bias,
                                                                    int M, int N, int K, int64_t ldx, int64_t ldy) {
#ifdef IK_DEVICE_WGMMA
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);
  const int bm = blockIdx.y * BM, bn = blockIdx.x * BN;
  const int tid = threadIdx.x, wg = tid / 128;
  const int ktiles = (K + BK - 1) / BK;

  // Each thread copies 4 of A's 1024 16-byte chunks and 8 of B's 2048 per stage; out-of-range chunks are zero-filled.
  auto load_stage = [&](int stage, int kt) {
    uint8_t* sa = smem + stage * kStage;
    uint8_t* sb = sa + kTileA;
#pragma unroll
    for (int i = 0; i < BM * 8 / THREADS; i++) {
      const int idx = tid + i * THREADS, r = idx / 8, c = idx % 8, gk = kt * BK + c * 16;
      const bool ok = gk < K && bm + r < M;
      cp_async16(sa + swz128(r, c), x + (ok ? (int64_t)(bm + r) * ldx + gk : 0), ok ? 16 : 0);
    }
#pragma unroll
    for (int i = 0; i < BN * 8 / THREADS; i++) {
      const int idx = tid + i * THREADS, r = idx / 8, c = idx % 8, gk = kt * BK + c * 16;
      const bool ok = gk < K && bn + r < N;
      cp_async16(sb + swz128(r, c), w + (ok ? (int64_t)(bn + r) * K + gk : 0), ok ? 16 : 0);
    }
  };

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }
  int acc[2][64];  // columns 0..127 and 128..255 of the block tile
#pragma unroll
  for (int i = 0; i < 64; i++) acc[0][i] = acc[1][i] = 0;

  for (int kt = 0; kt < ktiles; kt++) {
    cp_async_wait<STAGES - 2>();
    fence_async_shared();  // cp.async wrote through the generic proxy; wgmma reads through the async one
    __syncthreads();
    const uint32_t a = smem_addr(smem + (kt % STAGES) * kStage + wg * 64 * BK);
    const uint32_t b = smem_addr(smem + (kt % STAGES) * kStage + kTileA);
    wgmma_fence();
#pragma unroll
    for (int j = 0; j < BK / 32; j++) {
      wgmma_s8_m64n128k32(acc[0], smem_desc(a + 32 * j), smem_desc(b + 32 * j));
      wgmma_s8_m64n128k32(acc[1], smem_desc(a + 32 * j), smem_desc(b + 128 * BK + 32 * j));
    }
    wgmma_commit();
    wgmma_wait<1>();  // the previous slice's MMAs are done in this warpgroup...
    __syncthreads();  // ...and in the other, so its stage can be refilled
    const int next = kt + STAGES - 1;
    if (next < ktiles) load_stage(next % STAGES, next);
    cp_async_commit();
  }
  wgmma_wait<0>();
  cp_async_wait<0>();

  const int lane = tid % 32, g = lane / 4, t = lane % 4, row0 = bm + wg * 64 + (tid % 128) / 32 * 16 + g;
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const int m = row0 + half * 8;
    if (m >= M) continue;
    const float sx = xs[m];
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
#pragma unroll
      for (int e = 0; e < 2; e++) {
        const int n = bn + 8 * j + 2 * t + e;
        if (n < N) store_dequantized(y, ldy, m, n, acc[j / 16][4 * (j % 16) + half * 2 + e], sx, ws, bias);
      }
    }
  }
#endif
}

template <typename OutT>
struct Launch {
  static cudaError_t run(OutT* y, const OutT* bias, const int8_t* x, const float* xs, const int8_t* w, const float* ws, int m,
                         int n, int k, int64_t ldx, int64_t ldy, cudaStream_t st) {
    if (m < 1 || n < 1 || k < 16 || k % 16 != 0 || ldx % 16 != 0) return cudaErrorInvalidValue;
    auto err = allow_dynamic_smem<int8_gemm_sm90_kernel<OutT>>(kSmem);
    if (err != cudaSuccess) return err;
    const dim3 grid((n + BN - 1) / BN, (m + BM - 1) / BM);
    int8_gemm_sm90_kernel<OutT><<<grid, THREADS, kSmem, st>>>(y, x, w, xs, ws, bias, m, n, k, ldx, ldy);
    return cudaGetLastError();
  }
};

}  // namespace

// Writes 1 when this build's device code holds the wgmma kernel (compiled for sm_90a), 0 otherwise.
__global__ void wgmma_probe_kernel(int* out) {
#ifdef IK_DEVICE_WGMMA
  *out = 1;
#else
  *out = 0;
#endif
}

bool int8_gemm_sm90_available(cudaStream_t stream) {
  // Asked once, outside any stream capture (a capture forbids the probe's synchronous copy; the first INT8 GEMM of a
  // model runs eagerly during warm-up anyway).
  static int cached = -1;
  if (cached >= 0) return cached == 1;
  const int major = device_cc_major();
  if (major == 0) return false;  // not known (asked again next time)
  if (major != 9) return (cached = 0) == 1;
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &capturing) != cudaSuccess || capturing != cudaStreamCaptureStatusNone) return false;
  int* flag = nullptr;
  int host = 0;
  if (cudaMalloc(&flag, sizeof(int)) != cudaSuccess) return false;
  wgmma_probe_kernel<<<1, 1>>>(flag);
  const bool ok = cudaMemcpy(&host, flag, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess;
  cudaFree(flag);
  cached = ok && host == 1 ? 1 : 0;
  return cached == 1;
}

cudaError_t launch_int8_gemm_sm90(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                  const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                  int64_t y_stride, cudaStream_t stream) {
  return dispatch_out<Launch>(out_dtype, y, bias, xq, x_scale, wq, w_scale, m, n, k, x_stride, y_stride, stream);
}
