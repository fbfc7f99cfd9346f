// Hopper GEMM on weights dequantized into warpgroup-MMA register fragments: y [M, N] = x [M, K] · Wᵀ + bias, x/y
// bf16 or fp16, W in a compressed format described by a weights policy (groupwise_gemm_sm90.cu: INT4 group-wise;
// lut_gemm_sm90.cu: binary-coded). One kernel family serves 8 to 256 tokens per tile.
// - Operands swapped as in the INT8 skinny kernel: the weights are wgmma's A (64 output channels per consumer
//   warpgroup), the token rows its N-wide B.
// - A comes from registers: each consumer warp reads its 16 rows' compressed tile from shared memory and the policy
//   turns it into bf16/fp16 fragments, so nothing dequantized touches memory and the compressed weights are read from
//   DRAM once per token tile.
// - One producer warp issues tensor-memory-accelerator (TMA) copies of each stage: the policy's weight tile for 64·C
//   rows and 64·KB columns, and KB x boxes [MT tokens, 64 columns] 128-byte swizzled. Launched programmatically, the
//   first stages' weights are in flight before the wait for the kernel that writes x.
// - 256-token tiles hold 128 accumulators per consumer thread. A block of 2 consumer warpgroups and one producer warp
//   is allocated registers as 3 warpgroups, 168 per thread, too few: ptxas then waits for every warpgroup MMA before
//   the next (decoding and multiplying would not overlap) and spills. There the producer is a whole warpgroup that
//   gives its registers to the consumers (setmaxnreg: 40 against 232), as in the INT8 GEMM, and leaves once its
//   copies are issued; the consumers alone sum the tile.
// - Fragments are double-buffered per 64-column box (per stage when KB = 1), so the dequantization of one box overlaps
//   the MMAs of the one before; with several boxes per stage, alternate boxes also accumulate into separate registers.
// - Per-row parameters (scales, zero points, α) of a stage are loaded one stage ahead, into registers of the other
//   stage parity.
// - Decode shapes (one token tile) have few channel tiles; a cluster of `split` blocks shares a tile's K and the
//   partial sums meet in distributed shared memory, as in the INT8 skinny kernel. Every block stages its [MT, 64·C]
//   sums in shared memory, so stores run along N.
//
// A weights policy W (F::Tile<C, KB> of a family F with F::Args) provides:
//   static constexpr int kTileBytes;  the most bytes of one stage's weight tile (a multiple of 1024)
//   using Args = F::Args;             its kernel argument (pointers, group size, ...)
//   static __device__ void load(uint8_t* dst, const CUtensorMap* map, int kt, int n0, uint64_t* bar);  stage kt's tile
//   struct Lane {                     a consumer lane's state, for rows r_lo and r_lo + 8 of the block tile
//     __device__ Lane(const Args&, int n0, int r_lo, int N, int K, int lane);
//     template <int P> __device__ void fetch(int kt);   stage kt's per-row parameters into parity P's registers
//     template <int P> __device__ void decode(const uint8_t* tile, int b, uint32_t (&f)[4][4]);  box b's fragments
//   };
#pragma once
#include <cooperative_groups.h>
#include <algorithm>
#include <type_traits>
#include "dtype_convert.cuh"
#include "group_index.cuh"
#include "pdl.cuh"
#include "sm90_async.cuh"
#include "wgmma_f16.cuh"

// MT tokens per block, C consumer warpgroups (64·C channels), KB x boxes of 64 columns per stage, a weight tile of at
// most WBytes per stage.
template <int MT, int C, int KB, int WBytes>
struct DequantTile {
  static constexpr int kRows = 64 * C;
  static constexpr int kK = KB * 64;  // columns per stage
  static constexpr int kW = WBytes, kBox = MT * 128, kStage = kW + KB * kBox;
  // Decode tiles leave room for two blocks per SM; prefill tiles take most of the shared memory for one.
  static constexpr int kBudget = C == 1 ? 100 * 1024 : 200 * 1024;
  static constexpr int kStages = std::min(8, std::max(2, kBudget / kStage));
  // Consumer warpgroups, then the producer warp, or warpgroup where the accumulators need more than 168 registers.
  static constexpr bool kProducerWarpgroup = MT >= 256;
  static constexpr int kConsumerThreads = 128 * C;
  static constexpr int kThreads = kConsumerThreads + (kProducerWarpgroup ? 128 : 32);
  static constexpr int kProducerRegs = 40, kConsumerRegs = std::min(256, (65536 - 128 * kProducerRegs) / kConsumerThreads / 8 * 8);
  static constexpr int kMinBlocks = C == 1 ? 2 : 1;
  static constexpr int kPitch = kRows + 1;  // partial sums [MT][kPitch] float
  static constexpr int kSmem = 1024 + kStages * kStage + 2 * kStages * 8;
  static_assert(kW % 1024 == 0 && kBox % 1024 == 0, "stage pieces keep the 1024-byte swizzle alignment");
  static_assert(KB == 1 || KB % 2 == 0, "boxes alternate their fragment sets in pairs");
  static_assert(MT * kPitch * 4 <= kStages * kStage, "the partial sums reuse the stage buffers");
};
// Per-row parameters (scales, zero points, α) per stage: a stage starts on a multiple of its 64·KB columns and the
// policies take G a multiple of 128, so a group can only change at a 128-column boundary. A stage has
// dequant_param_sets(KB) sets, box b uses set b / 2; set j of stage kt belongs to group DequantGroups(...)(kt, KB, j).
constexpr int dequant_param_sets(int kb) { return (kb + 1) / 2; }
// Asked once per set and stage in every consumer warp, so kept cheap: 32-bit arithmetic (a 64-bit division is a called
// routine) and a shift where G is a power of two (group_index.cuh).
struct DequantGroups {
  int group, last, shift;
  __device__ DequantGroups(int g, int groups) : group(g), last(groups - 1), shift(group_shift(g)) {}
  __device__ int operator()(int kt, int kb, int j) const { return min(group_of(kt * kb * 64 + 128 * j, group, shift), last); }
};

constexpr int kDequantMaxSplit = 8;    // the portable cluster size
constexpr int kDequantPrefetchStages = 3;

// stage_bytes: the bytes TMA writes per stage (the policy's actual tile plus the x boxes).
// Sync: mma.sync m16n8k16 per warp instead of warpgroup MMAs (decode tiles, C = 1): the x fragments come from the
// swizzled boxes with 32-bit shared loads, and nothing waits on a warpgroup.
template <typename T, typename W, int MT, int C, int KB, bool Sync>
__global__ void __launch_bounds__(DequantTile<MT, C, KB, W::kTileBytes>::kThreads, DequantTile<MT, C, KB, W::kTileBytes>::kMinBlocks)
    dequant_gemm_sm90_kernel(const __grid_constant__ CUtensorMap x_map, const __grid_constant__ CUtensorMap w_map, T* __restrict__ y,
                             const typename W::Args args, const T* __restrict__ bias, int M, int N, int K, int64_t ldy, int split,
                             int stage_bytes) {
#ifdef IK_DEVICE_WGMMA
  using S = DequantTile<MT, C, KB, W::kTileBytes>;
  namespace cg = cooperative_groups;
  constexpr int kStages = S::kStages;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = swizzle_aligned(smem_raw);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kStages * S::kStage);
  uint64_t* empty = full + kStages;
  const uint64_t x_desc = smem_desc(smem_addr(smem + S::kW));  // stage 0's first x box; the others are offsets from it
  const int rank = split > 1 ? (int)cg::this_cluster().block_rank() : 0;
  const int n0 = blockIdx.x / split * S::kRows, m0 = blockIdx.y * MT;
  const int ktiles = (K + S::kK - 1) / S::kK, per = (ktiles + split - 1) / split;
  const int kt0 = rank * per, count = max(0, min(ktiles, kt0 + per) - kt0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  init_stage_barriers(full, empty, kStages, 4 * C);

  if (warp >= 4 * C) {
    if constexpr (S::kProducerWarpgroup) regs_down<S::kProducerRegs>();
    if (warp == 4 * C && lane == 0)
      produce_slices(
          full, empty, kStages, count, (uint32_t)stage_bytes, [] { pdl_start(); },
          [&](int i, int s, uint64_t* bar) { W::load(smem + s * S::kStage, &w_map, kt0 + i, n0, bar); },
          [&](int i, int s, uint64_t* bar) {
#pragma unroll
            for (int b = 0; b < KB; b++) tma_load_2d(smem + s * S::kStage + S::kW + b * S::kBox, &x_map, (kt0 + i) * S::kK + 64 * b, m0, bar);
          },
          kDequantPrefetchStages);
    else
      pdl_start();
    if constexpr (S::kProducerWarpgroup) return;  // such tiles are never split: the consumers sum them
  } else {
    if constexpr (S::kProducerWarpgroup) regs_up<S::kConsumerRegs>();
    pdl_start();
    const int r_lo = warp * 16 + lane / 4, t = lane % 4;  // this lane's rows in the block tile: r_lo, r_lo + 8
    typename W::Lane wl(args, n0, r_lo, N, K, lane);
    float acc[MT / 2], acc1[MT / 2];
#pragma unroll
    for (int i = 0; i < MT / 2; i++) acc[i] = acc1[i] = 0.f;
    uint32_t frag0[4][4], frag1[4][4];  // [k16 step][a0..a3], one set per box in flight
    if (count > 0) wl.template fetch<0>(kt0);

    // Box b of stage i (parameters in parity P): fragments into f, then 4 MMAs of 16 columns each into d.
    auto box = [&](int i, int b, auto parity, uint32_t (&f)[4][4], float (&d)[MT / 2]) {
      const uint8_t* tile = smem + (i % kStages) * S::kStage;
      wl.template decode<decltype(parity)::value>(tile, b, f);
      if constexpr (Sync) {
        // Token row 8j + g of the box: bytes 32·st + 4t (k 2t, 2t+1) and + 16 (k 2t+8, 2t+9), i.e. chunks 2st and
        // 2st + 1 at offset 4t, swizzled by the row.
        const uint8_t* xb = tile + S::kW + b * S::kBox;
        const int g = lane / 4;
#pragma unroll
        for (int st = 0; st < 4; st++)
#pragma unroll
          for (int j = 0; j < MT / 8; j++) {
            const uint8_t* row = xb + (8 * j + g) * 128 + 4 * t;
            const uint32_t b0 = *reinterpret_cast<const uint32_t*>(row + (((2 * st) ^ g) << 4));
            const uint32_t b1 = *reinterpret_cast<const uint32_t*>(row + (((2 * st + 1) ^ g) << 4));
            mma_f16_16x8x16<std::is_same_v<T, __nv_bfloat16>>(*reinterpret_cast<float(*)[4]>(&d[4 * j]), f[st][0], f[st][1], f[st][2], f[st][3],
                                                              b0, b1);
          }
        if (b == KB - 1) {
          __syncwarp();
          if (lane == 0) bar_arrive(&empty[i % kStages]);  // this warp is done with the stage
        }
      } else {
        const uint32_t xs = (i % kStages) * S::kStage + b * S::kBox;
        wgmma_fence();
#pragma unroll
        for (int st = 0; st < 4; st++) wgmma_rs<std::is_same_v<T, __nv_bfloat16>, MT>(d, f[st], smem_desc_at(x_desc, xs + 32 * st), true);
        wgmma_commit();
        wgmma_wait<1>();  // the previous box's MMAs are done: its fragments may be rewritten
        if (b == 0 && i > 0 && lane == 0) bar_arrive(&empty[(i - 1) % kStages]);  // and so is the previous stage
      }
    };
    auto stage = [&](int i, auto parity) {
      constexpr int p = decltype(parity)::value;
      if (i + 1 < count) wl.template fetch<1 - p>(kt0 + i + 1);
      bar_wait(&full[i % kStages], (i / kStages) & 1);
      if constexpr (KB == 1) {
        box(i, 0, parity, p ? frag1 : frag0, acc);
      } else {
#pragma unroll
        for (int b = 0; b < KB; b += 2) box(i, b, parity, frag0, acc), box(i, b + 1, parity, frag1, acc1);
      }
    };
    // Stages in unconditional pairs, the odd one after: ptxas can then see that a fragment set is rewritten only after
    // the wait that retires its MMAs (with the second stage of a pair under a branch it serialized the warpgroup MMAs
    // of the one-box stages, warning C7513).
    int i = 0;
    for (; i + 1 < count; i += 2) stage(i, std::integral_constant<int, 0>{}), stage(i + 1, std::integral_constant<int, 1>{});
    if (i < count) stage(i, std::integral_constant<int, 0>{});
    if constexpr (!Sync) wgmma_wait<0>();
#pragma unroll
    for (int i = 0; i < MT / 2; i++) acc[i] += acc1[i];

    // Every stage has been consumed, so the buffers take the partial sums once all consumer warps are done.
    named_barrier_sync(1, 128 * C);
    store_partials<MT, S::kPitch>(reinterpret_cast<float*>(smem), acc, r_lo, t);
  }

  constexpr int kSumThreads = S::kProducerWarpgroup ? S::kConsumerThreads : S::kThreads;
  cluster_sum_partials<kDequantMaxSplit, S::kRows, S::kPitch, kSumThreads>(reinterpret_cast<const float*>(smem), split, rank, min(M - m0, MT),
                                                                          n0, N, [&](int m, int n, float sum) {
                                                                            if (bias) sum += to_f(bias[n]);
                                                                            y[(int64_t)(m0 + m) * ldy + n] = from_f<T>(sum);
                                                                          });
#endif
}

// Launches one tile configuration. w_map describes the policy's weights; w_bytes is its actual tile per stage.
template <typename T, typename W, int MT, int C, int KB, bool Sync>
cudaError_t launch_dequant_tiles(const T* x, const CUtensorMap& w_map, int w_bytes, const typename W::Args& args, T* y, const T* bias, int m,
                                 int n, int k, int64_t ldx, int64_t ldy, cudaStream_t st) {
  using S = DequantTile<MT, C, KB, W::kTileBytes>;
  constexpr auto kernel = dequant_gemm_sm90_kernel<T, W, MT, C, KB, Sync>;
  CUtensorMap x_map;
  if (!tile_map_2d(&x_map, x, true, m, k, ldx * 2, 128, MT, CU_TENSOR_MAP_SWIZZLE_128B)) return cudaErrorInvalidValue;
  auto err = allow_dynamic_smem<kernel>(S::kSmem);
  if (err != cudaSuccess) return err;
  // One token tile: about `per_sm` blocks per SM, each channel tile's K split over at most kDequantMaxSplit of them.
  const int per_sm = std::max(1, std::min(2, 227 * 1024 / S::kSmem));
  const int tiles = (n + S::kRows - 1) / S::kRows, m_tiles = (m + MT - 1) / MT, ktiles = (k + S::kK - 1) / S::kK;
  const int split = m_tiles > 1 || S::kProducerWarpgroup ? 1
                                : resident_split<kernel>(std::min({per_sm * sm_count() / tiles, kDequantMaxSplit, ktiles}), tiles,
                                                         S::kThreads, S::kSmem);
  return launch_pdl_cluster(kernel, dim3(tiles * split, m_tiles), dim3(S::kThreads), S::kSmem, st, split, x_map, w_map, y, args, bias, m, n,
                            k, ldy, split, w_bytes + KB * S::kBox);
}

inline bool sync_mma_decode() {
  static const bool on = env_switched_on("INFERENCE_DEQUANT_SM90_SYNC_MMA");
  return on;
}

// The tile configuration for m rows. Decode (≤ 64 rows): 256 columns per stage, one warpgroup up to 16 rows, two above.
// Prefill: 128 channels × 128 or 256 tokens, whichever costs less counting waves × tokens per tile, a 128-token tile's
// token counted 1.5× (it reads its weights twice as often per token; on an H100 at 1024 × 6144 × 4096, three waves
// of 128-token tiles took 117–119 µs and two of 256-token tiles 105–108, docs/benchmarks/h100-hopper-w4a16-kernel.json),
// 64 columns per stage. Serving sends this kernel at most 128 rows (above that it dequantizes and uses cuBLAS).
// F is the weights family: F::Args, and F::Tile<C, KB> the policy. make_map(rows per tile, stage columns,
// CUtensorMap*) → the tile's actual bytes per stage (0: refused).
template <typename T, typename F, typename MakeMap>
cudaError_t launch_dequant_gemm(const T* x, MakeMap make_map, const typename F::Args& args, T* y, const T* bias, int m, int n, int k,
                                int64_t ldx, int64_t ldy, cudaStream_t st) {
  CUtensorMap w_map;
  auto run = [&](auto mt, auto c, auto kb) {
    constexpr int MT = decltype(mt)::value, C = decltype(c)::value, KB = decltype(kb)::value;
    const int bytes = make_map(64 * C, 64 * KB, &w_map);
    if (bytes <= 0) return cudaErrorInvalidValue;
    // Decode tiles multiply with mma.sync where INFERENCE_DEQUANT_SM90_SYNC_MMA=1 (for comparisons).
    if constexpr (C == 1 && MT <= 16)
      if (sync_mma_decode())
        return launch_dequant_tiles<T, typename F::template Tile<C, KB>, MT, C, KB, true>(x, w_map, bytes, args, y, bias, m, n, k, ldx, ldy, st);
    return launch_dequant_tiles<T, typename F::template Tile<C, KB>, MT, C, KB, false>(x, w_map, bytes, args, y, bias, m, n, k, ldx, ldy, st);
  };
  using I = std::integral_constant<int, 1>;
  using I2 = std::integral_constant<int, 2>;
  using I4 = std::integral_constant<int, 4>;
  if (m <= 8) return run(std::integral_constant<int, 8>{}, I{}, I4{});
  if (m <= 16) return run(std::integral_constant<int, 16>{}, I{}, I4{});
  // 17-64 tokens: two consumer warpgroups (128 channels) per block, so each x box in shared memory serves twice the
  // channels. Every block reads its K range of x once, so at one warpgroup x's reads from L2 would exceed the weights'
  // (64 tokens × 2 bytes per column against 64 channels × 0.5 bytes) and 2 stages of 40 KB would fit the decode budget.
  if (m <= 32) return run(std::integral_constant<int, 32>{}, I2{}, I4{});
  // INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=64|128|256 fixes the tokens of the tiles above 64 rows (for comparisons).
  static const int forced = [] {
    const int t = env_int("INFERENCE_DEQUANT_SM90_PREFILL_TOKENS");
    return t == 64 || t == 128 || t == 256 ? t : 0;
  }();
  const long tiles = (n + 127) / 128;
  const auto cost = [&](int mt, double factor) { return (double)((tiles * ((m + mt - 1) / mt) + sm_count() - 1) / sm_count()) * mt * factor; };
  const int tokens = m <= 64 ? 64 : forced ? forced : (m <= 128 || cost(128, 1.5) < cost(256, 1.0)) ? 128 : 256;
  if (tokens == 64) return run(std::integral_constant<int, 64>{}, I2{}, I4{});
  if (tokens == 128) return run(std::integral_constant<int, 128>{}, I2{}, I{});
  return run(std::integral_constant<int, 256>{}, I2{}, I{});
}
