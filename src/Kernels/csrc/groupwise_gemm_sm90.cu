#include <cooperative_groups.h>
#include <algorithm>
#include <type_traits>
#include "dtype_convert.cuh"
#include "groupwise_gemm.h"
#include "groupwise_pair.cuh"
#include "int8_gemm.h"
#include "pdl.cuh"
#include "sm90_async.cuh"
#include "wgmma_f16.cuh"

// Hopper W4A16 group-wise GEMM: y [M, N] = x [M, K] · dequant(W)ᵀ + bias for INT4 codes and groups of a multiple of
// 128 columns, at every M.
// - Operands swapped as in the INT8 skinny kernel: the weights are wgmma's A (64 output channels per consumer
//   warpgroup), the token rows its N-wide B, so one instruction serves from 8 tokens (decode) to 256 (prefill).
// - A comes from registers: each consumer warp reads its 16 rows' packed bytes from shared memory and turns them into
//   bf16/fp16 fragments ((128 + u) − (128 + z), exact, times the group's scale), so nothing dequantized touches memory
//   and the packed bytes are read from DRAM exactly once per token tile.
// - One producer warp issues tensor-memory-accelerator (TMA) copies of each stage: the weight tile [64·C rows, 32·KB
//   bytes] and KB x boxes [MT tokens, 64 columns], 128-byte swizzled (the weight tile too when its rows are 128 bytes,
//   so 8 consecutive rows read without bank conflicts). Launched programmatically, the first stages' weights are in
//   flight before the wait for the kernel that writes x.
// - Fragments are double-buffered per 64-column box, so the dequantization of box b+1 overlaps the MMAs of box b.
// - Decode shapes (one token tile) have few channel tiles; a cluster of `split` blocks shares a tile's K and the
//   partial sums meet in distributed shared memory, as in the INT8 skinny kernel. Every block ends by staging its
//   [MT, 64·C] sums in shared memory, so stores run along N.
namespace {

// MT tokens per block, C consumer warpgroups (64·C channels), KB x boxes of 64 columns per stage.
template <int MT, int C, int KB>
struct Sm90Tile {
  static constexpr int kRows = 64 * C;
  static constexpr int kWPitch = KB * 32;  // packed bytes of one row per stage
  static constexpr int kK = KB * 64;       // columns per stage
  static constexpr int kW = kRows * kWPitch, kBox = MT * 128, kStage = kW + KB * kBox;
  // Decode tiles leave room for two blocks per SM; prefill tiles take most of the shared memory for one.
  static constexpr int kBudget = C == 1 ? 100 * 1024 : 200 * 1024;
  static constexpr int kStages = std::min(8, std::max(2, kBudget / kStage));
  static constexpr int kThreads = 128 * C + 32;  // consumer warpgroups, then the producer warp
  static constexpr int kMinBlocks = C == 1 ? 2 : 1;
  static constexpr int kPitch = kRows + 1;       // partial sums [MT][kPitch] float
  static constexpr int kSmem = 1024 + kStages * kStage + 2 * kStages * 8;
  static_assert(kW % 1024 == 0 && kBox % 1024 == 0, "stage pieces keep the 1024-byte swizzle alignment");
  static_assert(MT * kPitch * 4 <= kStages * kStage, "the partial sums reuse the stage buffers");
};
constexpr int kMaxSplit = 8;
constexpr int kPrefetchStages = 3;

#ifdef IK_DEVICE_WGMMA
// Codes 2t and 2t+1 of a row (byte t of `word`, selector 0x4440 | t) as a dequantized 16-bit pair.
template <typename T>
__device__ __forceinline__ uint32_t int4_pair(uint32_t word, uint32_t sel, typename Pair<T>::T2 zb, typename Pair<T>::T2 sb) {
  using T2 = typename Pair<T>::T2;
  const uint32_t b = __byte_perm(word, 0u, sel);                     // 0x000000hl: h = code 2t+1, l = code 2t
  uint32_t v = ((b * 0x1001u) & 0x000F000Fu) | Pair<T>::kMagic;  // (base + l, base + h)
  T2 h = __hmul2(__hsub2(*reinterpret_cast<T2*>(&v), zb), sb);
  return *reinterpret_cast<uint32_t*>(&h);
}
#endif

template <typename T, int MT, int C, int KB>
__global__ void __launch_bounds__(Sm90Tile<MT, C, KB>::kThreads, Sm90Tile<MT, C, KB>::kMinBlocks)
    groupwise_a16_sm90_kernel(const __grid_constant__ CUtensorMap x_map, const __grid_constant__ CUtensorMap w_map, T* __restrict__ y,
                              const float* __restrict__ scales, const uint8_t* __restrict__ zeros, const T* __restrict__ bias, int M, int N,
                              int K, int group, int64_t ldy, int split) {
#ifdef IK_DEVICE_WGMMA
  using S = Sm90Tile<MT, C, KB>;
  using P = Pair<T>;
  using T2 = typename P::T2;
  namespace cg = cooperative_groups;
  constexpr int kStages = S::kStages;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = swizzle_aligned(smem_raw);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kStages * S::kStage);
  uint64_t* empty = full + kStages;
  const int rank = split > 1 ? (int)cg::this_cluster().block_rank() : 0;
  const int n0 = blockIdx.x / split * S::kRows, m0 = blockIdx.y * MT;
  const int ktiles = (K + S::kK - 1) / S::kK, per = (ktiles + split - 1) / split;
  const int kt0 = rank * per, count = max(0, min(ktiles, kt0 + per) - kt0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  init_stage_barriers(full, empty, kStages, 4 * C);

  if (warp == 4 * C) {
    if (lane == 0)
      produce_slices(
          full, empty, kStages, count, S::kStage, [] { pdl_start(); },
          [&](int i, int s, uint64_t* bar) { tma_load_2d(smem + s * S::kStage, &w_map, (kt0 + i) * S::kWPitch, n0, bar); },
          [&](int i, int s, uint64_t* bar) {
#pragma unroll
            for (int b = 0; b < KB; b++) tma_load_2d(smem + s * S::kStage + S::kW + b * S::kBox, &x_map, (kt0 + i) * S::kK + 64 * b, m0, bar);
          },
          kPrefetchStages);
    else
      pdl_start();
  } else {
    pdl_start();
    const int g = lane / 4, t = lane % 4;
    const int r_lo = warp * 16 + g, r_hi = r_lo + 8;  // this lane's rows in the block tile
    const int64_t groups = K / group;
    const float* s_lo = scales + (int64_t)min(n0 + r_lo, N - 1) * groups;
    const float* s_hi = scales + (int64_t)min(n0 + r_hi, N - 1) * groups;
    const uint8_t* z_lo = zeros ? zeros + (s_lo - scales) : nullptr;
    const uint8_t* z_hi = zeros ? zeros + (s_hi - scales) : nullptr;
    const uint32_t sel = 0x4440u | t;
    // A stage starts on a multiple of its 64·KB columns and G is a multiple of 128, so a group can only change at a
    // 128-column boundary: kSets scale sets per stage (box b uses set b / 2). Each stage's raw scales and zero points
    // are loaded one stage ahead into the other parity's registers.
    constexpr int kSets = (KB + 1) / 2;
    float raw_s[2][kSets][2], raw_z[2][kSets][2];  // [stage parity][set][row lo, hi]
    auto load_scales = [&](int kt, float (&s)[kSets][2], float (&z)[kSets][2]) {
#pragma unroll
      for (int j = 0; j < kSets; j++) {
        const int64_t grp = min((int64_t)(kt * S::kK + 128 * j) / group, groups - 1);
        s[j][0] = __ldg(s_lo + grp), s[j][1] = __ldg(s_hi + grp);
        z[j][0] = zeros ? (float)__ldg(z_lo + grp) : 8.f, z[j][1] = zeros ? (float)__ldg(z_hi + grp) : 8.f;
      }
    };
    float acc[MT / 2];
#pragma unroll
    for (int i = 0; i < MT / 2; i++) acc[i] = 0.f;
    uint32_t frag0[4][4], frag1[4][4];  // [k16 step][a0..a3], one set per box in flight
    if (count > 0) load_scales(kt0, raw_s[0], raw_z[0]);

    // Box b of stage i: fragments into f (rows lo/hi: zero point kBase + z and scale as 16-bit pairs), then 4 MMAs
    // of 16 columns each.
    auto box = [&](int i, int b, uint32_t (&f)[4][4], const T2 (&zb)[2], const T2 (&sb)[2]) {
      const uint8_t* wt = smem + (i % kStages) * S::kStage;
      uint32_t w[2][8];  // rows lo, hi: the box's 32 bytes
#pragma unroll
      for (int rr = 0; rr < 2; rr++) {
        const int r = rr ? r_hi : r_lo;
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const int chunk = 2 * b + h, phys = KB == 4 ? chunk ^ (r & 7) : chunk;
          const uint4 q = *reinterpret_cast<const uint4*>(wt + r * S::kWPitch + phys * 16);
          w[rr][4 * h] = q.x, w[rr][4 * h + 1] = q.y, w[rr][4 * h + 2] = q.z, w[rr][4 * h + 3] = q.w;
        }
      }
#pragma unroll
      for (int st = 0; st < 4; st++) {  // words 2st (k 0..7 of the step) and 2st+1 (k 8..15)
        f[st][0] = int4_pair<T>(w[0][2 * st], sel, zb[0], sb[0]);
        f[st][1] = int4_pair<T>(w[1][2 * st], sel, zb[1], sb[1]);
        f[st][2] = int4_pair<T>(w[0][2 * st + 1], sel, zb[0], sb[0]);
        f[st][3] = int4_pair<T>(w[1][2 * st + 1], sel, zb[1], sb[1]);
      }
      const uint32_t xs = smem_addr(wt + S::kW + b * S::kBox);
      wgmma_fence();
#pragma unroll
      for (int st = 0; st < 4; st++) wgmma_rs<std::is_same_v<T, __nv_bfloat16>, MT>(acc, f[st], smem_desc(xs + 32 * st), true);
      wgmma_commit();
      wgmma_wait<1>();  // the previous box's MMAs are done: its fragments may be rewritten
      if (b == 0 && i > 0 && lane == 0) bar_arrive(&empty[(i - 1) % kStages]);  // and so is the previous stage
    };
    // Stage i with parity p (i % 2): its scales are in raw_*[p]; the next stage's go into raw_*[1 − p]. With one box
    // per stage the fragment sets alternate by stage, otherwise by box.
    auto stage = [&](int i, auto parity) {
      constexpr int p = decltype(parity)::value;
      if (i + 1 < count) load_scales(kt0 + i + 1, raw_s[1 - p], raw_z[1 - p]);
      T2 zb[kSets][2], sb[kSets][2];
#pragma unroll
      for (int j = 0; j < kSets; j++)
#pragma unroll
        for (int rr = 0; rr < 2; rr++) zb[j][rr] = P::both(P::kBase + raw_z[p][j][rr]), sb[j][rr] = P::both(raw_s[p][j][rr]);
      bar_wait(&full[i % kStages], (i / kStages) & 1);
      if constexpr (KB == 1) {
        box(i, 0, p ? frag1 : frag0, zb[0], sb[0]);
      } else {
#pragma unroll
        for (int b = 0; b < KB; b += 2) box(i, b, frag0, zb[b / 2], sb[b / 2]), box(i, b + 1, frag1, zb[b / 2], sb[b / 2]);
      }
    };
    for (int i = 0; i < count; i += 2) {
      stage(i, std::integral_constant<int, 0>{});
      if (i + 1 < count) stage(i + 1, std::integral_constant<int, 1>{});
    }
    wgmma_wait<0>();

    // Every stage has been consumed, so the buffers take the partial sums once all consumer warps are done.
    named_barrier_sync(1, 128 * C);
    float* part = reinterpret_cast<float*>(smem);
#pragma unroll
    for (int j = 0; j < MT / 8; j++)
#pragma unroll
      for (int e = 0; e < 2; e++) {
        const int m = 8 * j + 2 * t + e;
        part[m * S::kPitch + r_lo] = acc[4 * j + e];
        part[m * S::kPitch + r_hi] = acc[4 * j + 2 + e];
      }
  }

  // Block `rank` of the cluster finishes its share of the tile's elements e = token·64C + channel, summing every
  // block's partial (see the INT8 skinny kernel).
  if (split > 1) cg::this_cluster().sync();
  else __syncthreads();
  const float* part = reinterpret_cast<const float*>(smem);
  const float* parts[kMaxSplit];
#pragma unroll
  for (int r = 0; r < kMaxSplit; r++) parts[r] = split > 1 && r < split ? cg::this_cluster().map_shared_rank(part, r) : part;
  const int total = min(M - m0, MT) * S::kRows, chunk = (total + split - 1) / split, end = min(total, (rank + 1) * chunk);
  for (int e = rank * chunk + threadIdx.x; e < end; e += S::kThreads) {
    const int m = e / S::kRows, ch = e % S::kRows, n = n0 + ch;
    if (n >= N) continue;
    const int at = m * S::kPitch + ch;
    float sum = 0.f;
#pragma unroll
    for (int r = 0; r < kMaxSplit; r++) sum += r < split ? parts[r][at] : 0.f;
    if (bias) sum += to_f(bias[n]);
    y[(int64_t)(m0 + m) * ldy + n] = from_f<T>(sum);
  }
  if (split > 1) cg::this_cluster().sync();  // no block may leave while another still reads its partial sums
#endif
}

template <typename T, int MT, int C, int KB>
cudaError_t launch_tiles(const T* x, const uint8_t* w, T* y, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                         int group, int64_t ldx, int64_t ldy, cudaStream_t st) {
  using S = Sm90Tile<MT, C, KB>;
  constexpr auto kernel = groupwise_a16_sm90_kernel<T, MT, C, KB>;
  CUtensorMap x_map, w_map;
  if (!tile_map_2d(&x_map, x, true, m, k, ldx * 2, 128, MT, CU_TENSOR_MAP_SWIZZLE_128B) ||
      !tile_map_2d(&w_map, w, false, n, k / 2, k / 2, S::kWPitch, S::kRows, KB == 4 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE))
    return cudaErrorInvalidValue;
  auto err = allow_dynamic_smem<kernel>(S::kSmem);
  if (err != cudaSuccess) return err;
  // One token tile: about `per_sm` blocks per SM, each channel tile's K split over at most kMaxSplit of them.
  const int per_sm = std::max(1, std::min(2, 227 * 1024 / S::kSmem));
  const int tiles = (n + S::kRows - 1) / S::kRows, m_tiles = (m + MT - 1) / MT, ktiles = (k + S::kK - 1) / S::kK;
  const int split = m_tiles > 1 ? 1 : std::max(1, std::min({per_sm * sm_count() / tiles, kMaxSplit, ktiles}));
  return launch_pdl_cluster(kernel, dim3(tiles * split, m_tiles), dim3(S::kThreads), S::kSmem, st, split, x_map, w_map, y, s, z, bias, m, n,
                            k, group, ldy, split);
}

// Prefill: 128 channels × 128 or 256 tokens, whichever leaves fewer idle SMs in the last wave (a 128-token tile
// reads its weights twice as often per token, counted as 1.25× the work per column as in the INT8 kernel).
template <typename T>
cudaError_t launch_prefill(const T* x, const uint8_t* w, T* y, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                           int group, int64_t ldx, int64_t ldy, cudaStream_t st) {
  const long tiles = (n + 127) / 128;
  const auto cost = [&](int mt, double factor) { return (double)((tiles * ((m + mt - 1) / mt) + sm_count() - 1) / sm_count()) * mt * factor; };
  if (m <= 128 || cost(128, 1.25) < cost(256, 1.0)) return launch_tiles<T, 128, 2, 1>(x, w, y, s, z, bias, m, n, k, group, ldx, ldy, st);
  return launch_tiles<T, 256, 2, 1>(x, w, y, s, z, bias, m, n, k, group, ldx, ldy, st);
}

template <typename T>
cudaError_t launch_rows(const T* x, const uint8_t* w, T* y, const float* s, const uint8_t* z, const T* bias, int m, int n, int k, int group,
                        int64_t ldx, int64_t ldy, cudaStream_t st) {
  if (m <= 8) return launch_tiles<T, 8, 1, 4>(x, w, y, s, z, bias, m, n, k, group, ldx, ldy, st);
  if (m <= 16) return launch_tiles<T, 16, 1, 4>(x, w, y, s, z, bias, m, n, k, group, ldx, ldy, st);
  if (m <= 32) return launch_tiles<T, 32, 1, 4>(x, w, y, s, z, bias, m, n, k, group, ldx, ldy, st);
  if (m <= 64) return launch_tiles<T, 64, 1, 4>(x, w, y, s, z, bias, m, n, k, group, ldx, ldy, st);
  return launch_prefill<T>(x, w, y, s, z, bias, m, n, k, group, ldx, ldy, st);
}

}  // namespace

// The row range where this kernel is faster than the mma.sync streaming kernel (M ≤ 16) and than dequantize + cuBLAS
// (M > 128), from an H200 (Llama-3-8B's four shapes, geometric means against cuBLAS bf16 in one command;
// h200-zeroquant-kernels.json: kernel_decisions): M = 64 0.67× against 0.26×.
bool groupwise_gemm_sm90_supports(int bits, int group, int64_t m, const void* x, int64_t x_stride, cudaStream_t stream) {
  static const bool enabled = !env_switched_off("INFERENCE_GROUPWISE_SM90");
  static const bool every_m = env_switched_on("INFERENCE_GROUPWISE_SM90_ALL_M");
  return enabled && (every_m || (m >= 17 && m <= 128)) && bits == 4 && group % 128 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
         x_stride % 8 == 0 && int8_gemm_sm90_available(stream);
}

cudaError_t launch_groupwise_gemm_a16_sm90(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                           const uint8_t* zeros, const void* bias, int m, int n, int k, int group, int64_t x_stride,
                                           int64_t y_stride, cudaStream_t stream) {
  if (m < 1 || n < 1 || k < group || group % 128 != 0 || k % group != 0) return cudaErrorInvalidValue;
  const auto w = reinterpret_cast<const uint8_t*>(packed);
  if (dtype == 1)
    return launch_rows<__half>((const __half*)x, w, (__half*)y, scales, zeros, (const __half*)bias, m, n, k, group, x_stride, y_stride, stream);
  if (dtype == 2)
    return launch_rows<__nv_bfloat16>((const __nv_bfloat16*)x, w, (__nv_bfloat16*)y, scales, zeros, (const __nv_bfloat16*)bias, m, n, k, group,
                                      x_stride, y_stride, stream);
  return cudaErrorInvalidValue;
}
