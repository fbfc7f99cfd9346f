#include "int8_epilogue.cuh"
#include "int8_gemm.h"
#include "pdl.cuh"
#include "sm90_async.cuh"

// Hopper INT8 GEMM on warpgroup MMA (wgmma): the only INT8 tensor-core path on an H100 with more throughput than
// bf16 cuBLAS at large M (mma.sync reaches about half of it).
// - Block tile 128×256 (INT8 needs big tiles: at 128×128 the operand traffic from L2 alone would cap it near
//   mma.sync's rate), or 192/128 wide where that fills the last wave better; K in 128-byte slices, 4–6 stages.
// - Warp-specialised: warpgroup 0 is the producer, one thread of which issues the tensor-memory-accelerator (TMA)
//   copies of each stage's x and w tiles; warpgroups 1 and 2 are the consumers, 64×BN of the tile each (one
//   m64nBNk32 instruction per 32-byte K step). Full and empty mbarriers per stage hand the buffers back and forth,
//   so no thread both loads and multiplies and no block-wide barrier sits in the main loop.
// - TMA writes the 128-byte swizzle that wgmma's shared-memory descriptors read, and zero-fills past M, N and K.
// - Launched programmatically (PDL): the first stages' weights are in flight before the wait for the kernel that
//   writes x (produce_slices in sm90_async.cuh).
// - Tiles are visited in groups of kGroupM row tiles, rows fastest, so a wave of blocks shares a few x row panels
//   and reads each weight tile about once from DRAM (rows-slowest order re-reads a 28672-row weight per row tile).
// - The dequantization of the other INT8 kernels, staged through shared memory for whole-row 16-byte stores.
// Its body exists only in sm_90a device code; int8_gemm_sm90_available() asks the device whether this build has it.
namespace {

constexpr int BM = 128, BK = kSliceBytes, kGroupM = 16;
constexpr int kConsumers = 2, THREADS = (kConsumers + 1) * 128;

// A block tile of BM × BN (BN = 128, 192 or 256; see tile_width) and its pipeline.
template <int BN>
struct Tile {
  static constexpr int kTileA = BM * BK, kStage = kTileA + BN * BK;  // 32, 40 or 48 KiB per stage
  static constexpr int kStages = 200 * 1024 / kStage;                   // 6, 5 or 4
  static constexpr int kSmem = 1024 + kStages * kStage + 2 * kStages * 8;  // alignment slack, stages, barriers
};

// Block b's tile origin (bm, bn): groups of kGroupM row tiles, rows fastest within a group.
template <int BN>
__device__ __forceinline__ void tile_origin(int b, int m_tiles, int n_tiles, int& bm, int& bn) {
  const int per_group = kGroupM * n_tiles, first = b / per_group * kGroupM;
  const int rows = min(m_tiles - first, kGroupM), in = b % per_group;
  bm = (first + in % rows) * BM;
  bn = in / rows * BN;
}

// y [M, N] = dequantized x [M, K] · w [N, K]ᵀ; x and w reach the kernel as TMA tensor maps of [BM | BN, 128 B] boxes.
template <typename OutT, int BN>
__global__ void __launch_bounds__(THREADS, 1) int8_gemm_sm90_kernel(const __grid_constant__ CUtensorMap x_map,
                                                                    const __grid_constant__ CUtensorMap w_map, OutT* __restrict__ y,
                                                                    const float* __restrict__ xs, const float* __restrict__ ws,
                                                                    const OutT* __restrict__ bias, int M, int N, int K, int64_t ldy,
                                                                    int m_tiles, int n_tiles) {
#ifdef IK_DEVICE_WGMMA
  constexpr int STAGES = Tile<BN>::kStages, kStage = Tile<BN>::kStage, kTileA = Tile<BN>::kTileA;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = swizzle_aligned(smem_raw);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + STAGES * kStage);  // stage s loaded (TMA bytes arrived)
  uint64_t* empty = full + STAGES;                                        // stage s consumed (every consumer warp done)
  int bm, bn;
  tile_origin<BN>(blockIdx.x, m_tiles, n_tiles, bm, bn);
  const int wg = threadIdx.x / 128, ktiles = (K + BK - 1) / BK;
  init_stage_barriers(full, empty, STAGES, kConsumers * 4);

  if (wg == 0) {
    regs_down<40>();
    if (threadIdx.x == 0)
      produce_slices(
          full, empty, STAGES, ktiles, kStage, [] { pdl_wait(); },
          [&](int kt, int s, uint64_t* bar) { tma_load_2d(smem + s * kStage + kTileA, &w_map, kt * BK, bn, bar); },
          [&](int kt, int s, uint64_t* bar) { tma_load_2d(smem + s * kStage, &x_map, kt * BK, bm, bar); }, STAGES);
    else
      pdl_wait();
    return;
  }

  regs_up<232>();
  pdl_wait();  // before reading x's scales and writing y
  const int c = wg - 1;  // this consumer's rows: c·64 .. c·64 + 63 of the tile
  int acc[BN / 2];  // this consumer's 64 rows × BN columns of the block tile
#pragma unroll
  for (int i = 0; i < BN / 2; i++) acc[i] = 0;
  consume_slices<BN>(acc, smem, kStage, c * 64 * BK, kTileA, full, empty, STAGES, ktiles);

  // Epilogue through shared memory: each consumer dequantizes its 64×BN accumulators into a padded OutT tile in
  // the (now idle) stage buffers, then writes whole rows with 16-byte stores. Stored straight from the accumulators,
  // every thread writes 128 scattered 2-byte values: 179.0 against 146.2 µs for 4096 × 4096 × 4096 on an H100
  // (h100-w8a8.json: kernel_decisions, tma_warp_specialised_wgmma_m_above_128).
  // The other consumer may still be multiplying out of a stage, so both meet first (named barrier 1, 256 threads).
  named_barrier_sync(1, kConsumers * 128);
  constexpr int kVec = 16 / sizeof(OutT), kPitch = BN + kVec;  // a row's 16-byte pad spreads rows over the banks
  OutT* tile = reinterpret_cast<OutT*>(smem) + c * 64 * kPitch;
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4, r0 = (threadIdx.x % 128) / 32 * 16 + g;
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const int r = r0 + half * 8, m = bm + c * 64 + r;
    const float sx = m < M ? xs[m] : 0.f;
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
#pragma unroll
      for (int e = 0; e < 2; e++) {
        const int col = 8 * j + 2 * t + e, n = bn + col;
        const float v = n < N ? dequantized(acc[4 * j + half * 2 + e], sx, ws, bias, n) : 0.f;
        tile[r * kPitch + col] = from_f<OutT>(v);
      }
    }
  }
  named_barrier_sync(2 + c, 128);  // this consumer's tile is complete
  const bool vector_rows = N % kVec == 0 && ldy % kVec == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  for (int i = threadIdx.x % 128; i < 64 * (BN / kVec); i += 128) {
    const int r = i / (BN / kVec), col = i % (BN / kVec) * kVec, m = bm + c * 64 + r, n = bn + col;
    if (m >= M || n >= N) continue;
    const OutT* src = tile + r * kPitch + col;
    OutT* dst = y + (int64_t)m * ldy + n;
    if (vector_rows) {
      *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    } else {
      for (int e = 0; e < kVec && n + e < N; e++) dst[e] = src[e];
    }
  }
#endif
}

// The block tile's width. The grid takes ceil(tiles / SMs) waves and a block's time grows with its width, but
// narrower tiles spend more operand traffic per MAC: measured on an H100 at K = 4096, a 192-wide block costs about
// 1.15× and a 128-wide one 1.25× a 256-wide one per column. The width with the lowest waves × width × that factor
// wins. E.g. N = 6144 at 1024 rows: 256-wide tiles take 2 waves, the second 45% full; 192-wide ones 2 full waves
// (46.5 against 58.4 µs); at 4096 rows and N = 28672 the 256-wide tiles stay (856.9 against 1007.1 µs 192-wide;
// h100-w8a8.json: kernel_decisions, tile_widths).
int tile_width(int m_tiles, int n) {
  constexpr struct { int width; double factor; } kWidths[] = {{256, 1.0}, {192, 1.15}, {128, 1.25}};
  int best = 256;
  double best_cost = 0;
  for (const auto& w : kWidths) {
    const long tiles = (long)m_tiles * ((n + w.width - 1) / w.width);
    const double cost = (double)((tiles + sm_count() - 1) / sm_count()) * w.width * w.factor;
    if (best_cost == 0 || cost < best_cost) best = w.width, best_cost = cost;
  }
  return best;
}

template <typename OutT, int BN>
cudaError_t launch_tiles(const CUtensorMap& x_map, const int8_t* w, OutT* y, const OutT* bias, const float* xs, const float* ws,
                         int m, int n, int k, int64_t ldy, cudaStream_t st) {
  CUtensorMap w_map;
  if (!tile_map(&w_map, w, n, k, k, BN)) return cudaErrorInvalidValue;
  auto err = allow_dynamic_smem<int8_gemm_sm90_kernel<OutT, BN>>(Tile<BN>::kSmem);
  if (err != cudaSuccess) return err;
  const int m_tiles = (m + BM - 1) / BM, n_tiles = (n + BN - 1) / BN;
  return launch_pdl(int8_gemm_sm90_kernel<OutT, BN>, dim3(m_tiles * n_tiles), dim3(THREADS), Tile<BN>::kSmem, st, x_map, w_map, y, xs,
                    ws, bias, m, n, k, ldy, m_tiles, n_tiles);
}

template <typename OutT>
struct Launch {
  static cudaError_t run(OutT* y, const OutT* bias, const int8_t* x, const float* xs, const int8_t* w, const float* ws, int m,
                         int n, int k, int64_t ldx, int64_t ldy, cudaStream_t st) {
    if (!tma_operands_ok(x, w, m, n, k, ldx)) return cudaErrorInvalidValue;
    CUtensorMap x_map;
    if (!tile_map(&x_map, x, m, k, ldx, BM)) return cudaErrorInvalidValue;
    const int m_tiles = (m + BM - 1) / BM;
    switch (tile_width(m_tiles, n)) {
      case 128: return launch_tiles<OutT, 128>(x_map, w, y, bias, xs, ws, m, n, k, ldy, st);
      case 192: return launch_tiles<OutT, 192>(x_map, w, y, bias, xs, ws, m, n, k, ldy, st);
      default: return launch_tiles<OutT, 256>(x_map, w, y, bias, xs, ws, m, n, k, ldy, st);
    }
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
  // The TMA kernels also need the driver's cuTensorMapEncodeTiled (CUDA 12 drivers and later).
  if (major != 9 || encode_tiled() == nullptr) return (cached = 0) == 1;
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
