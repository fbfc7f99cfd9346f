#include <cooperative_groups.h>
#include <algorithm>
#include "int8_epilogue.cuh"
#include "int8_gemm.h"
#include "pdl.cuh"
#include "sm90_async.cuh"

// Hopper INT8 GEMM for few token rows (decode steps: 9–32 and 65–128 rows, see int8_gemm_sm90_skinny_rows), where
// streaming the weights once at full memory bandwidth is what matters.
// - Operands swapped: the weights are wgmma's 64-row A (64 output channels per block), the token rows its N-column
//   B (MT = 16, 32 or 128 columns, zero-filled past M), so D is [64 channels × MT tokens].
// - One warp issues TMA copies of [64 channels | MT tokens, 128 B] slices into 6 stages; one warpgroup multiplies.
//   One, because two or four sharing a token slice (128 or 256 channels per block) are slower at every M on an
//   H100: fused M=16 1.33× / 1.27× against 1.60× (h100-w8a8.json: kernel_decisions,
//   consumer_warpgroups_per_block).
//   Launched programmatically, the producer puts the first kPrefetchStages stages' weights in flight before waiting
//   for the kernel that writes x (the norm or activation quantizer), so the weight stream overlaps that kernel.
// - Few channel tiles would leave SMs idle, so a thread-block cluster of `split` blocks shares one tile's K; their
//   partial sums meet through distributed shared memory and each block dequantizes and stores a share of the tile.
namespace {

constexpr int kChannels = 64;  // output channels per block (the wgmma's M)
constexpr int kStages = 6;
// Stages whose weights are in flight before the wait for the kernel that writes x. All 6 flood DRAM just while that
// kernel (the norm or activation quantizer) needs its own loads: on an H100 the norm + GEMM pair at 16 and 32 rows
// gives fused geomeans of 1.63× and 1.51× with 3 stages against 1.60× and 1.48× with 6 (h100-w8a8.json:
// kernel_decisions, weight_stages_in_flight_before_the_pdl_wait).
constexpr int kPrefetchStages = 3;
constexpr int kThreads = 160;  // warps 0–3 (one warpgroup) multiply, warp 4 loads
constexpr int kMaxSplit = 8;   // the portable cluster size

template <int MT>
struct Skinny {
  static constexpr int kW = kChannels * kSliceBytes, kStage = kW + MT * kSliceBytes;  // 10–24 KiB
  static constexpr int kSmem = 1024 + kStages * kStage + 2 * kStages * 8;            // alignment slack, stages, barriers
  static constexpr int kPitch = kChannels + 1;  // partial sums [MT][kPitch] int32, padded against bank conflicts
  static_assert(MT * kPitch * 4 <= kStages * kStage, "the partial sums reuse the stage buffers");
};

// y [M, N] = dequantized x [M, K] · w [N, K]ᵀ for the channel tile blockIdx.x / split; this block's share of K is
// the k-slices [rank·per, rank·per + per).
template <typename OutT, int MT>
__global__ void __launch_bounds__(kThreads) skinny_int8_sm90_kernel(const __grid_constant__ CUtensorMap x_map,
                                                                    const __grid_constant__ CUtensorMap w_map, OutT* __restrict__ y,
                                                                    const float* __restrict__ xs, const float* __restrict__ ws,
                                                                    const OutT* __restrict__ bias, int M, int N, int K, int64_t ldy,
                                                                    int split) {
#ifdef IK_DEVICE_WGMMA
  using S = Skinny<MT>;
  namespace cg = cooperative_groups;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = swizzle_aligned(smem_raw);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kStages * S::kStage);  // stage s loaded
  uint64_t* empty = full + kStages;                                          // stage s consumed by all 4 warps
  const int rank = split > 1 ? (int)cg::this_cluster().block_rank() : 0;
  const int n0 = blockIdx.x / split * kChannels;
  const int ktiles = (K + kSliceBytes - 1) / kSliceBytes, per = (ktiles + split - 1) / split;
  const int k0 = rank * per, count = max(0, min(ktiles, k0 + per) - k0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  init_stage_barriers(full, empty, kStages, 4);

  int acc[MT / 2];
#pragma unroll
  for (int i = 0; i < MT / 2; i++) acc[i] = 0;
  if (warp == 4) {
    if (lane == 0)
      produce_slices(
          full, empty, kStages, count, S::kStage, [] { pdl_start(); },
          [&](int i, int s, uint64_t* bar) { tma_load_2d(smem + s * S::kStage, &w_map, (k0 + i) * kSliceBytes, n0, bar); },
          [&](int i, int s, uint64_t* bar) { tma_load_2d(smem + s * S::kStage + S::kW, &x_map, (k0 + i) * kSliceBytes, 0, bar); },
          kPrefetchStages);
    else
      pdl_start();
  } else {
    pdl_start();  // before reading x's scales and writing y; the next kernel may settle in while this one runs
    consume_slices<MT>(acc, smem, S::kStage, 0, S::kW, full, empty, kStages, count);
    // Every copy has been consumed, so the stage buffers take the partial sums once all 4 warps are done with them.
    named_barrier_sync(1, 128);
    store_partials<MT, S::kPitch>(reinterpret_cast<int*>(smem), acc, warp * 16 + lane / 4, lane % 4);
  }

  // Only tokens below M are shared out: reading them rank by rank over all MT columns makes M=17 cost as much as M=32
  // (fused M=17 1.50× against 1.61×; h100-w8a8.json: kernel_decisions, tma_skinny_epilogue).
  cluster_sum_partials<kMaxSplit, kChannels, S::kPitch, kThreads>(reinterpret_cast<const int*>(smem), split, rank, min(M, MT), n0, N,
                                                                  [&](int m, int n, int sum) {
                                                                    y[(int64_t)m * ldy + n] = from_f<OutT>(dequantized(sum, xs[m], ws, bias, n));
                                                                  });
#endif
}

template <typename OutT, int MT>
cudaError_t launch_rows(const int8_t* x, const int8_t* w, OutT* y, const OutT* bias, const float* xs, const float* ws, int m, int n,
                        int k, int64_t ldx, int64_t ldy, cudaStream_t st) {
  constexpr auto kernel = skinny_int8_sm90_kernel<OutT, MT>;
  CUtensorMap x_map, w_map;
  if (!tile_map(&x_map, x, m, k, ldx, MT) || !tile_map(&w_map, w, n, k, k, kChannels)) return cudaErrorInvalidValue;
  auto err = allow_dynamic_smem<kernel>(Skinny<MT>::kSmem);
  if (err != cudaSuccess) return err;
  // About two blocks per SM (one where the stages leave room for only one), each tile's K split over at most kMaxSplit
  // of them; the SMs' other slots are left to the next kernel, which settles in while this one runs.
  const int per_sm = std::max(1, std::min(2, 227 * 1024 / Skinny<MT>::kSmem));
  const int tiles = (n + kChannels - 1) / kChannels, ktiles = (k + kSliceBytes - 1) / kSliceBytes;
  const int split = resident_split<kernel>(std::min({per_sm * sm_count() / tiles, kMaxSplit, ktiles}), tiles, kThreads, Skinny<MT>::kSmem);
  return launch_pdl_cluster(kernel, dim3(tiles * split), dim3(kThreads), Skinny<MT>::kSmem, st, split, x_map, w_map, y, xs, ws, bias,
                            m, n, k, ldy, split);
}

template <typename OutT>
struct Launch {
  static cudaError_t run(OutT* y, const OutT* bias, const int8_t* x, const float* xs, const int8_t* w, const float* ws, int m,
                         int n, int k, int64_t ldx, int64_t ldy, cudaStream_t st) {
    if (!tma_operands_ok(x, w, m, n, k, ldx) || m > kInt8Sm90SkinnyMaxRows) return cudaErrorInvalidValue;
    if (m <= 16) return launch_rows<OutT, 16>(x, w, y, bias, xs, ws, m, n, k, ldx, ldy, st);
    if (m <= 32) return launch_rows<OutT, 32>(x, w, y, bias, xs, ws, m, n, k, ldx, ldy, st);
    return launch_rows<OutT, 128>(x, w, y, bias, xs, ws, m, n, k, ldx, ldy, st);
  }
};

}  // namespace

cudaError_t launch_int8_gemm_sm90_skinny(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                         const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                         int64_t y_stride, cudaStream_t stream) {
  return dispatch_out<Launch>(out_dtype, y, bias, xq, x_scale, wq, w_scale, m, n, k, x_stride, y_stride, stream);
}

// The row ranges, from an H100 (fused geomeans over Llama-3-8B's four shapes, one command each; h100-w8a8.json:
// kernel_decisions, tma_skinny_9_to_32_rows): 1–8 rows are faster on the mma.sync skinny kernel (batch-1
// decode 255.4 against 249.9 tok/s), 33–64 on cuBLASLt (M=64: 1.25× against 1.18×), and this kernel wins at 9–32
// (M=32: 1.47× against 1.30×) and 65–128 (M=128: 1.14× against 1.03×).
bool int8_gemm_sm90_skinny_rows(int64_t m, cudaStream_t stream) {
  static const bool enabled = !env_switched_off("INFERENCE_INT8_SM90_SKINNY");
  const bool rows = (m >= 9 && m <= 32) || (m >= 65 && m <= kInt8Sm90SkinnyMaxRows);
  return enabled && rows && int8_gemm_sm90_available(stream);
}
