#include "int8_epilogue.cuh"
#include "int8_gemm.h"
#include "mma.cuh"
#include "pdl.cuh"

// A classic multistage tensor-core GEMM: 128×128 block tiles, 64-byte K slices, 4 warps of 64×64, a 4-stage
// cp.async pipeline and ldmatrix fragments. Shared-memory rows are 64 bytes (four 16-byte chunks); chunk c of row r
// sits at c ^ ((r >> 1) & 3), so the 8 rows one ldmatrix reads land in 8 distinct bank groups.
namespace {

constexpr int BM = 128, BN = 128, BK = 64, STAGES = 4, THREADS = 128;
constexpr int kStageBytes = (BM + BN) * BK;

__device__ __forceinline__ int swz(int r, int c) { return r * BK + ((c ^ ((r >> 1) & 3)) << 4); }

template <typename OutT>
__global__ void __launch_bounds__(THREADS) int8_gemm_kernel(OutT* __restrict__ y, const int8_t* __restrict__ x,
                                                            const int8_t* __restrict__ w, const float* __restrict__ xs,
                                                            const float* __restrict__ ws, const OutT* __restrict__ bias,
                                                            int M, int N, int K, int64_t ldx, int64_t ldy) {
  extern __shared__ __align__(128) uint8_t smem[];
  const int bm = blockIdx.y * BM, bn = blockIdx.x * BN;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = (warp / 2) * 64, wn = (warp % 2) * 64;
  const int ktiles = (K + BK - 1) / BK;

  // Each thread copies 4 chunks of A and 4 of B per stage (BM·BK/16 = 512 chunks each).
  auto load_stage = [&](int stage, int kt) {
    uint8_t* sa = smem + stage * kStageBytes;
    uint8_t* sb = sa + BM * BK;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int idx = tid + i * THREADS, r = idx / 4, c = idx % 4, gk = kt * BK + c * 16;
      const bool ka = gk < K;
      const bool oka = ka && bm + r < M, okb = ka && bn + r < N;
      cp_async16(sa + swz(r, c), x + (oka ? (int64_t)(bm + r) * ldx + gk : 0), oka ? 16 : 0);
      cp_async16(sb + swz(r, c), w + (okb ? (int64_t)(bn + r) * K + gk : 0), okb ? 16 : 0);
    }
  };

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }

  int acc[4][8][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 8; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0;

  for (int kt = 0; kt < ktiles; kt++) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    const int next = kt + STAGES - 1;
    if (next < ktiles) load_stage(next % STAGES, next);
    cp_async_commit();
    const uint8_t* sa = smem + (kt % STAGES) * kStageBytes;
    const uint8_t* sb = sa + BM * BK;
#pragma unroll
    for (int kk = 0; kk < 2; kk++) {  // two k32 steps per 64-byte slice
      uint32_t af[4][4], bf[4][4];
#pragma unroll
      for (int mt = 0; mt < 4; mt++) ldmatrix_x4(af[mt], sa + swz(wm + mt * 16 + lane % 16, kk * 2 + lane / 16));
      // bf[p] = {b0, b1} of n-tile 2p, then {b0, b1} of n-tile 2p+1.
#pragma unroll
      for (int p = 0; p < 4; p++) ldmatrix_x4(bf[p], sb + swz(wn + p * 16 + (lane / 16) * 8 + lane % 8, kk * 2 + (lane / 8) % 2));
#pragma unroll
      for (int mt = 0; mt < 4; mt++)
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
          mma_s8_16x8x32(acc[mt][nt], af[mt][0], af[mt][1], af[mt][2], af[mt][3], bf[nt / 2][(nt % 2) * 2],
                         bf[nt / 2][(nt % 2) * 2 + 1]);
    }
  }
  cp_async_wait<0>();

  // Epilogue: dequantize in registers and store; lane (g, t) holds rows g and g + 8, columns 2t and 2t + 1.
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < 4; mt++) {
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int m = bm + wm + mt * 16 + g + half * 8;
      if (m >= M) continue;
      const float sx = xs[m];
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
          const int n = bn + wn + nt * 8 + 2 * t + e;
          if (n < N) store_dequantized(y, ldy, m, n, acc[mt][nt][half * 2 + e], sx, ws, bias);
        }
      }
    }
  }
}

template <typename OutT>
struct Launch {
  static cudaError_t run(OutT* y, const OutT* bias, const int8_t* x, const float* xs, const int8_t* w, const float* ws, int m,
                         int n, int k, int64_t ldx, int64_t ldy, cudaStream_t st) {
    if (m < 1 || n < 1 || k < 16 || k % 16 != 0 || ldx % 16 != 0) return cudaErrorInvalidValue;
    auto err = allow_dynamic_smem<int8_gemm_kernel<OutT>>(STAGES * kStageBytes);
    if (err != cudaSuccess) return err;
    const dim3 grid((n + BN - 1) / BN, (m + BM - 1) / BM);
    int8_gemm_kernel<OutT><<<grid, THREADS, STAGES * kStageBytes, st>>>(y, x, w, xs, ws, bias, m, n, k, ldx, ldy);
    return cudaGetLastError();
  }
};

}  // namespace

cudaError_t launch_int8_gemm_tiled(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                   const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                   int64_t y_stride, cudaStream_t stream) {
  return dispatch_out<Launch>(out_dtype, y, bias, xq, x_scale, wq, w_scale, m, n, k, x_stride, y_stride, stream);
}

namespace {

// One output element per thread and grid-stride loop: acc [M, N] int32 row-major, read once.
template <typename OutT>
__global__ void dequantize_kernel(OutT* __restrict__ y, const int32_t* __restrict__ acc, const float* __restrict__ xs,
                                  const float* __restrict__ ws, const OutT* __restrict__ bias, int M, int N, int64_t ldy) {
  pdl_start();
  const int64_t total = (int64_t)M * N;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int m = (int)(i / N), n = (int)(i % N);
    store_dequantized(y, ldy, m, n, acc[i], xs[m], ws, bias);
  }
}

template <typename OutT>
struct Dequantize {
  static cudaError_t run(OutT* y, const OutT* bias, const int32_t* acc, const float* xs, const float* ws, int m, int n, int64_t ldy,
                         cudaStream_t st) {
    const int64_t blocks = ((int64_t)m * n + 255) / 256;
    return launch_pdl(dequantize_kernel<OutT>, dim3((unsigned)(blocks < 4096 ? blocks : 4096)), dim3(256), 0, st, y, acc, xs, ws,
                      bias, m, n, ldy);
  }
};

}  // namespace

cudaError_t launch_int8_dequantize(int out_dtype, void* y, const int32_t* acc, const float* x_scale, const float* w_scale,
                                   const void* bias, int m, int n, int64_t y_stride, cudaStream_t stream) {
  if (m < 1 || n < 1) return cudaSuccess;
  return dispatch_out<Dequantize>(out_dtype, y, bias, acc, x_scale, w_scale, m, n, y_stride, stream);
}

bool int8_gemm_cublaslt_rows(int64_t m) {
  static const bool enabled = !env_switched_off("INFERENCE_INT8_CUBLASLT") && device_cc_major() >= 9;
  return enabled && m > 16 && m <= 128;
}
