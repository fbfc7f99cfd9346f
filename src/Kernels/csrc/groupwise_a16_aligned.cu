#include "groupwise_a16.cuh"
#include "groupwise_a16_x_shared.cuh"
#include "groupwise_gemm.h"
#include "pdl.cuh"
#include "stream_walk.cuh"

// The A16 streaming kernel for the common layout: INT4 codes, G = 128·2^s (a group is whole 64-byte chunks, so every
// piece has one scale per row and the scale waits for the MMA) and K a multiple of 256. It computes what the general
// kernel in groupwise_gemm.cu computes, with the per-piece bookkeeping taken out of the loop: no bounds check or zero
// fill per load (a warp whose chunks lie past K skips a whole stage), token rows past M read row M − 1 instead of being
// predicated (their sums land in columns that are never stored), and the group index is a shift of the chunk index.
// A warp takes two consecutive chunks of one 16-channel row tile per stage (one address per row), or, past one token
// on layers wide enough, one chunk of two (or, where INFERENCE_GROUPWISE_A16_ROW_TILES=4 asks, four) row tiles: x then
// comes from global memory for every chunk, and the row tiles share each x load and its permutes, so a warp reads MT
// bytes of x per weight byte instead of 2·MT (MT token tiles of 8).
//
// The weights pass through shared memory: each lane copies its pieces with cp.async (L2 only) into a ring of kStages
// stages and reads them back just before its MMAs, so three stages per lane (192 bytes) are in flight while one is
// computed, three times what one 64-byte buffer per lane in registers would keep in flight. Blocks are persistent: a
// grid of kBlocksPerSm blocks per multiprocessor (two up to 16 tokens, else one) walks the row tiles, and the
// ring runs on across tile boundaries, so the next tile's weights are in flight while a tile's warps meet in shared
// memory and store; at K = 4096 a tile is only two stages per warp. At one token (K ≤ kMaxXSharedK) each block first
// copies x into shared memory already permuted into the pieces' pair order, with each chunk's sum, which saves every
// piece its four global loads and 16 byte permutes of x and lets its fragments skip the zero point's subtraction
// (a16_piece_x_shared). For the gated MLP's gate/up projection the epilogue can store silu(gate)·up instead of the
// projection (Gated: a row tile holds 8 gate rows and their 8 up rows).
namespace {

using groupwise_a16::kWarps;
constexpr int kStages = 4;
// A warp's stage is kPieces pieces of 16 bytes per lane: RB row tiles of 16 channels × kUnroll consecutive 64-byte
// chunks × rows lo/hi. RB = 1 takes two chunks (one address per row); RB = 2 or 4 one chunk of RB row tiles, which
// share their x loads.
template <int RB>
constexpr int kUnroll = RB == 1 ? 2 : 1;
template <int RB>
constexpr int kPieces = 2 * RB * kUnroll<RB>;
template <int RB>
constexpr int kStep = kWarps * kUnroll<RB>;  // chunks a block's warps cover per stage
template <int RB>
constexpr int kRingBytes = kStages * kPieces<RB> * kWarps * 32 * 16;  // 64 KB (RB ≤ 2), 128 KB (RB = 4)
constexpr int kMaxXSharedK = 16384;  // one token's activations up to 32 KB beside the ring
constexpr int kGatedMaxRows = 16;    // the gated store at up to two token tiles (decode); longer inputs store gate_up
// One token's activations in shared memory: K values in pair order, then the K / 128 chunk sums in float.
template <typename T>
constexpr int x_shared_bytes(int k) { return k * (int)sizeof(T) + k / 128 * 4; }
template <int MT, int RB>
constexpr int kBlocksPerSm = MT <= 2 && RB <= 2 ? 2 : 1;  // what the registers (__launch_bounds__) and the ring leave room for

// Lane (g, t)'s weight rows of the 16-channel tile from n0: rows g and g + 8 (clamped to N − 1: rows past N are
// computed, never stored) at byte 16·t of each 64-byte chunk, and their scales and zero points per group. Gated (the
// gated MLP's gate/up projection, N = 2·half rows): gate rows n0 + g (clamped to half − 1) and their up rows, half
// further, so that a tile holds 8 gate channels and their 8 up channels.
template <bool Zeros>
struct TileRows {
  const uint8_t *w_lo, *w_hi;
  const float *s_lo, *s_hi;
  const uint8_t *z_lo, *z_hi;
  __device__ TileRows(const uint8_t* w, const float* scales, const uint8_t* zeros, int N, int n0, int chunks, int groups, bool gated) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int row_lo = gated ? min(n0 + g, N / 2 - 1) : min(n0 + g, N - 1), row_hi = gated ? row_lo + N / 2 : min(n0 + g + 8, N - 1);
    w_lo = w + (int64_t)row_lo * chunks * 64 + t * 16;
    w_hi = w + (int64_t)row_hi * chunks * 64 + t * 16;
    s_lo = scales + (int64_t)row_lo * groups;
    s_hi = scales + (int64_t)row_hi * groups;
    z_lo = Zeros ? zeros + (int64_t)row_lo * groups : nullptr;
    z_hi = Zeros ? zeros + (int64_t)row_hi * groups : nullptr;
  }
};

// grid (persistent blocks, token tiles of kGroupwiseA16TileRows), 8 warps that split K. Ring layout
// [stage][piece][thread]: a warp's 16-byte accesses are consecutive, conflict-free. A lane reads only what it copied
// itself, so cp.async.wait_group orders it and no barrier is needed; a stage is overwritten only after the MMAs that
// consumed its registers have issued. Scales and zero points stay in registers, one set per stage and piece pair
// (chunk u or row tile b; the unrolled stage loop keeps their indices static), loaded with the stage's weights.
// Gated: W is the gated MLP's gate/up projection [gate; up] (N = 2·I rows) and y [M, I] = silu(gate)·up (TileRows,
// finish_tile): a tile is 8 output channels.
template <typename T, int MT, bool Zeros, bool XShared, int RB, Epilogue Ep>
__global__ void __launch_bounds__(kWarps * 32, kBlocksPerSm<MT, RB>)
    groupwise_a16_aligned_kernel(T* __restrict__ y, const T* __restrict__ x, const uint8_t* __restrict__ w, const float* __restrict__ scales,
                                 const uint8_t* __restrict__ zeros, const T* __restrict__ bias, int M, int N, int K, int chunk_shift,
                                 int64_t x_stride, int64_t y_stride, int early_stages) {
  constexpr bool Gated = Ep == Epilogue::Gated;
  constexpr int U = kUnroll<RB>, kPairs = kPieces<RB> / 2;  // kPairs: a stage's (lo, hi) piece pairs, U·RB
  extern __shared__ uint4 ring[];  // [kStages][kPieces][kWarps · 32], then (XShared) x_perm, x_sum
  uint4* const x_perm = ring + kRingBytes<RB> / 16;  // [chunk][v][t]: lane t's 4 uint4 of a chunk, in pair order
  float* const x_sum = reinterpret_cast<float*>(x_perm + K / 8);  // [chunk]: Σ x over its 128 columns
  const int tid = threadIdx.x, split = tid / 32, g = tid % 32 / 4, t = tid % 4;
  groupwise_a16::enter_token_tile(x, y, M, x_stride, y_stride);
  constexpr int kTileChannels = Gated ? 8 : 16;  // output channels per row tile
  const int chunks = K / 128, groups = chunks >> chunk_shift, tiles = ((Gated ? N / 2 : N) + kTileChannels * RB - 1) / (kTileChannels * RB);
  const int steps = (chunks + kStep<RB> - 1) / kStep<RB>;  // stages per tile
  const T* x_row[MT];  // the lane's token rows (past M: row M − 1) at its 32 codes of a chunk
  bool x_ok[MT];
#pragma unroll
  for (int j = 0; j < MT; j++) {
    x_row[j] = x + (int64_t)min(j * 8 + g, M - 1) * x_stride + t * 32;
    x_ok[j] = true;
  }
  float acc[RB][MT][4] = {};

  // [stage][chunk u or row tile b][row lo/hi]. At one token the zero points stay as loaded (one byte, or at G = 128
  // with two chunks per stage both chunks' bytes) and become floats where the stage is computed: converted where they
  // are loaded, the warp would wait there for the load, a DRAM or L2 round trip, before the current stage's MMAs
  // (H100: 2.94x against 2.86x cuBLAS bf16 at one token). Past one token (128 registers) the conversion stays at the
  // load: converted where computed, 2 tokens ran 2.61x against 2.74x (docs/benchmarks/h100-w4a16-kernel-variants.json).
  using ZeroReg = std::conditional_t<XShared, uint32_t, float>;
  float sc[kStages][kPairs][2];
  ZeroReg zr[kStages][kPairs][2];
  const int z_pair_shift = U == 2 && chunk_shift == 0 ? 8 : 0;  // XShared: pair u's byte of zr is u · z_pair_shift
  auto zero = [&](int stage, int p, int row) -> float {
    if constexpr (!Zeros) return 8.f;
    else if constexpr (XShared) return (float)((zr[stage][p][row] >> (p * z_pair_shift)) & 0xFFu);
    else return zr[stage][p][row];
  };
  auto piece = [&](int stage, int p) -> uint4& { return ring[(stage * kPieces<RB> + p) * (kWarps * 32) + tid]; };
  StreamCursor in{(int)blockIdx.x, 0}, out{(int)blockIdx.x, 0};  // the next stage to copy, the next to compute
  // Copies `in`'s chunks into `stage` (nothing past the last tile or past K: both warp-uniform) as one commit group.
  auto issue = [&](int stage) {
    const int c0 = split * U + in.step * kStep<RB>;  // U = 2: even, as chunks is, so both chunks are in range when c0 is
    if (in.tile < tiles && c0 < chunks) {
      const int g0 = c0 >> chunk_shift;
#pragma unroll
      for (int b = 0; b < RB; b++) {
        const TileRows<Zeros> r(w, scales, zeros, N, (in.tile * RB + b) * kTileChannels, chunks, groups, Gated);
#pragma unroll
        for (int u = 0; u < U; u++) {
          cp_async16(&piece(stage, 2 * (b + u)), r.w_lo + (c0 + u) * 64, 16);
          cp_async16(&piece(stage, 2 * (b + u) + 1), r.w_hi + (c0 + u) * 64, 16);
        }
        if (U == 2 && chunk_shift == 0) {  // kernel-uniform
          // The two chunks' scales and zero points in one load per row: groups c0 and c0 + 1, adjacent and (c0 and
          // `groups` even) 8- / 2-byte aligned.
          const float2 lo = __ldg(reinterpret_cast<const float2*>(r.s_lo + g0)), hi = __ldg(reinterpret_cast<const float2*>(r.s_hi + g0));
          sc[stage][0][0] = lo.x, sc[stage][1][0] = lo.y, sc[stage][0][1] = hi.x, sc[stage][1][1] = hi.y;
          if constexpr (Zeros) {
            const uint32_t zl = __ldg(reinterpret_cast<const unsigned short*>(r.z_lo + g0)), zh = __ldg(reinterpret_cast<const unsigned short*>(r.z_hi + g0));
            if constexpr (XShared) zr[stage][0][0] = zr[stage][1][0] = zl, zr[stage][0][1] = zr[stage][1][1] = zh;
            else zr[stage][0][0] = (float)(zl & 0xFF), zr[stage][1][0] = (float)(zl >> 8), zr[stage][0][1] = (float)(zh & 0xFF), zr[stage][1][1] = (float)(zh >> 8);
          }
        } else {  // every chunk of the stage in group g0 (U = 2: G ≥ 256)
#pragma unroll
          for (int u = 0; u < U; u++) {
            sc[stage][b + u][0] = __ldg(r.s_lo + g0);
            sc[stage][b + u][1] = __ldg(r.s_hi + g0);
            if constexpr (Zeros) {
              zr[stage][b + u][0] = (ZeroReg)__ldg(r.z_lo + g0);
              zr[stage][b + u][1] = (ZeroReg)__ldg(r.z_hi + g0);
            }
          }
        }
      }
    }
    cp_async_commit();
    in.advance(steps);
  };
#pragma unroll
  // The weights need nothing from the kernel before, x does: early_stages of the ring's first kStages − 1 stages are
  // copied before the wait for it (kernel-uniform).
  for (int st = 0; st < kStages - 1; st++) {
    if (st == early_stages) pdl_wait(), pdl_launch_dependents();
    issue(st);
  }
  if (early_stages >= kStages - 1) pdl_wait(), pdl_launch_dependents();
  if constexpr (XShared) groupwise_a16::stage_x_shared<kWarps * 32>(x_perm, x_sum, x, K);  // once per block
  while (out.tile < tiles) {  // block-uniform
#pragma unroll
    for (int st = 0; st < kStages; st++) {
      issue((st + kStages - 1) % kStages);  // the stage computed one step ago
      cp_async_wait<kStages - 1>();         // this stage's copies have landed
      if (out.tile < tiles) {               // block-uniform
        const int c = split * U + out.step * kStep<RB>;
        if (c < chunks) {  // warp-uniform
          if constexpr (XShared) {
#pragma unroll
            for (int u = 0; u < U; u++)
              groupwise_a16::a16_piece_x_shared<T>(acc[0][0], piece(st, 2 * u), piece(st, 2 * u + 1), sc[st][u][0], sc[st][u][1],
                                                   zero(st, u, 0), zero(st, u, 1), x_perm + (c + u) * 16 + t, x_sum[c + u]);
          } else if constexpr (RB == 1) {
#pragma unroll
            for (int u = 0; u < U; u++)
              groupwise_a16::a16_piece<T, 4, MT, true>(acc[0], piece(st, 2 * u), piece(st, 2 * u + 1), sc[st][u][0], sc[st][u][1], zero(st, u, 0),
                                                       zero(st, u, 1), x_row, x_ok, (c + u) * 128, true);
          } else {
            uint4 q[RB][2];
            float z[RB][2];
#pragma unroll
            for (int b = 0; b < RB; b++) q[b][0] = piece(st, 2 * b), q[b][1] = piece(st, 2 * b + 1), z[b][0] = zero(st, b, 0), z[b][1] = zero(st, b, 1);
            groupwise_a16::a16_tiles_int4<T, MT, RB>(acc, q, sc[st], z, x_row, c * 128);
          }
        }
        if (out.step == steps - 1) finish_tile<kWarps, Ep>(acc, split, y, bias, M, N, out.tile * kTileChannels * RB, y_stride, out);
        out.advance(steps);
      }
    }
  }
}

// kBlocksPerSm persistent blocks per multiprocessor; INFERENCE_GROUPWISE_A16_PERSISTENT=0 gives every tile its own
// block instead, for comparisons.
template <int MT, int RB>
int grid_blocks(int tiles, int token_tiles) {
  static const bool persistent = !env_switched_off("INFERENCE_GROUPWISE_A16_PERSISTENT");
  if (!persistent) return tiles;
  return persistent_blocks(tiles, kBlocksPerSm<MT, RB>, token_tiles);
}

// Stages of the ring a block copies before it waits for the kernel before it: all kStages − 1 of the first fill, or
// INFERENCE_GROUPWISE_A16_EARLY_STAGES (0 to 3), for comparisons.
int early_stages() {
  static const int stages = [] {
    const char* v = std::getenv("INFERENCE_GROUPWISE_A16_EARLY_STAGES");
    const int n = v ? std::atoi(v) : kStages - 1;
    return n >= 0 && n < kStages ? n : kStages - 1;
  }();
  return stages;
}

// n: W's rows (Gated: 2·I). A gated tile's 8 output channels are 16 rows, so the tile counts are the same.
template <typename T, bool Zeros, int MT, bool XShared, int RB, Epilogue Ep>
cudaError_t launch(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n, int k, int chunk_shift,
                   int64_t xs, int64_t ys, cudaStream_t st) {
  constexpr auto kernel = groupwise_a16_aligned_kernel<T, MT, Zeros, XShared, RB, Ep>;
  if (const cudaError_t err = allow_dynamic_smem<kernel>(kRingBytes<RB> + (XShared ? x_shared_bytes<T>(kMaxXSharedK) : 0)); err != cudaSuccess)
    return err;
  const int token_tiles = (m + kGroupwiseA16TileRows - 1) / kGroupwiseA16TileRows;
  const dim3 block(kWarps * 32), grid(grid_blocks<MT, RB>((n + 16 * RB - 1) / (16 * RB), token_tiles), token_tiles);
  return launch_pdl(kernel, grid, block, kRingBytes<RB> + (XShared ? x_shared_bytes<T>(k) : 0), st, y, x, w, s, z, bias, m, n, k, chunk_shift, xs,
                    ys, early_stages());
}

// Tiles each block of the persistent grid walks, at most (1 where every tile has its own block).
template <int MT, int RB>
int tile_rounds(int n, int token_tiles) {
  const int tiles = (n + 16 * RB - 1) / (16 * RB);
  const int blocks = grid_blocks<MT, RB>(tiles, token_tiles);
  return (tiles + blocks - 1) / blocks;
}

// Past one token x comes from global memory for every piece; more row tiles per warp cut that traffic. A warp takes
// two row tiles where that leaves its block fewer tiles to walk than one row tile would: at K = 4096 a tile's time is
// mostly its fixed cost (the ring's fill, the warps' reduction and store), so the walk's length sets the kernel's.
// On an H100 (round-AA.sh 2) two row tiles ran Llama-3-8B's 28672x4096 1.14x faster at 8 tokens and 1.23x at 16
// (4 rounds of the grid instead of 7 at 16 tokens), and four row tiles 6144x4096 1.45x faster at 16 tokens (one round
// instead of two). INFERENCE_GROUPWISE_A16_ROW_TILES=1 keeps one everywhere; =4 takes four up to 16 tokens (one block
// per multiprocessor, a 128 KB ring; the partial sums of 32 tokens would not fit beside it), slower on the 4096-wide
// layers (4096x14336: 25.6 against 17.5 µs at 8 tokens), where one row tile already takes one round. The rule gives
// those measurements' choices, and on 6144x4096 two row tiles (one round instead of two): 7.8 against 9.7 µs at 8
// tokens, 10.2 against 14.6 at 16 (H100, docs/benchmarks/h100-groupwise-row-tiles.json).
template <typename T, bool Zeros, int MT, Epilogue Ep>
cudaError_t launch_rows(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                        int chunk_shift, int64_t xs, int64_t ys, cudaStream_t st) {
  static const int row_tiles = env_int("INFERENCE_GROUPWISE_A16_ROW_TILES");
  if constexpr (MT <= 2)
    if (row_tiles == 4) return launch<T, Zeros, MT, false, 4, Ep>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  const int token_tiles = (m + kGroupwiseA16TileRows - 1) / kGroupwiseA16TileRows;
  if (row_tiles != 1 && tile_rounds<MT, 2>(n, token_tiles) < tile_rounds<MT, 1>(n, token_tiles))
    return launch<T, Zeros, MT, false, 2, Ep>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  return launch<T, Zeros, MT, false, 1, Ep>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
}

// INFERENCE_GROUPWISE_A16_X_SHARED=0 keeps one token's activations in global memory, for comparisons.
bool x_shared_enabled() {
  static const bool enabled = !env_switched_off("INFERENCE_GROUPWISE_A16_X_SHARED");
  return enabled;
}

// Gated: up to 16 tokens (its launcher checks).
template <typename T, bool Zeros, Epilogue Ep>
cudaError_t launch_tiles(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                         int chunk_shift, int64_t xs, int64_t ys, cudaStream_t st) {
  if (m == 1 && k <= kMaxXSharedK && x_shared_enabled())
    return launch<T, Zeros, 1, true, 1, Ep>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  if (m <= 8) return launch_rows<T, Zeros, 1, Ep>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  if (m <= 16) return launch_rows<T, Zeros, 2, Ep>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  if constexpr (Ep != Epilogue::Store) return cudaErrorInvalidValue;
  else return launch_rows<T, Zeros, 4, Ep>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
}

template <typename T, Epilogue Ep = Epilogue::Store>
cudaError_t launch_typed(void* y, const void* x, const int32_t* packed, const float* s, const uint8_t* z, const void* bias, int m, int n,
                         int k, int group, int64_t xs, int64_t ys, cudaStream_t st) {
  const int chunk_shift = __builtin_ctz(group / 128);
  const auto w = reinterpret_cast<const uint8_t*>(packed);
  return z ? launch_tiles<T, true, Ep>((T*)y, (const T*)x, w, s, z, (const T*)bias, m, n, k, chunk_shift, xs, ys, st)
           : launch_tiles<T, false, Ep>((T*)y, (const T*)x, w, s, z, (const T*)bias, m, n, k, chunk_shift, xs, ys, st);
}

}  // namespace

bool groupwise_a16_aligned_supports(int bits, int group, int k) {
  static const bool enabled = !env_switched_off("INFERENCE_GROUPWISE_A16_ALIGNED");
  return enabled && bits == 4 && group >= 128 && (group & (group - 1)) == 0 && k % 256 == 0;
}

cudaError_t launch_groupwise_gemm_a16_aligned(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                              const uint8_t* zeros, const void* bias, int m, int n, int k, int group, int64_t x_stride,
                                              int64_t y_stride, cudaStream_t stream) {
  if (!groupwise_a16_aligned_supports(4, group, k) || m < 1 || n < 1 || k < group || k % group != 0) return cudaErrorInvalidValue;
  switch (dtype) {
    case 1: return launch_typed<__half>(y, x, packed, scales, zeros, bias, m, n, k, group, x_stride, y_stride, stream);
    case 2: return launch_typed<__nv_bfloat16>(y, x, packed, scales, zeros, bias, m, n, k, group, x_stride, y_stride, stream);
    default: return cudaErrorInvalidValue;
  }
}

bool groupwise_a16_gated_supports(int bits, int group, int m, int n, int k) {
  static const bool enabled = !env_switched_off("INFERENCE_GROUPWISE_GATED_EPILOGUE");
  return enabled && m >= 1 && m <= kGatedMaxRows && n % 2 == 0 && groupwise_a16_aligned_supports(bits, group, k);
}

cudaError_t launch_groupwise_gemm_a16_gated(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                            const uint8_t* zeros, const void* bias, int m, int n, int k, int group, int64_t x_stride,
                                            int64_t y_stride, cudaStream_t stream) {
  if (!groupwise_a16_gated_supports(4, group, m, n, k) || k % group != 0) return cudaErrorInvalidValue;
  switch (dtype) {
    case 1: return launch_typed<__half, Epilogue::Gated>(y, x, packed, scales, zeros, bias, m, n, k, group, x_stride, y_stride, stream);
    case 2: return launch_typed<__nv_bfloat16, Epilogue::Gated>(y, x, packed, scales, zeros, bias, m, n, k, group, x_stride, y_stride, stream);
    default: return cudaErrorInvalidValue;
  }
}
