#include <type_traits>
#include "dtype_convert.cuh"
#include "lut_gemm.h"
#include "mma.cuh"
#include "mma_partials.cuh"
#include "pdl.cuh"
#include "ptx_bits.cuh"
#include "stream_walk.cuh"

// LUT-GEMM's streaming tensor-core kernel, for kBcqStreamMinRows to kBcqStreamMaxRows tokens (BCQ weights, G = 128·2^s dividing
// K, N a multiple of 8, 16-bit x): y = x · Wᵀ with W = Σ_i α_i·B_i + offset computed as
//   Σ_i α_i · (B_i · x) + offset · Σx   per group,
// where B_i ∈ {−1, +1} is bit-plane i. The ±1 values are exact in bf16/fp16, so each plane's MMAs run on fragments
// built from its sign bits with one shift and one lop3 per pair, into a fresh accumulator that α_i then scales in
// float; Σx over the group comes from one more MMA chain with an all-ones A and serves every row. Nothing is
// dequantized or rounded to 16 bits: the plane sums are of exact ±x products, accumulated in float.
//
// The weights are the MMA's A (16 output channels per tile), the tokens its B (8 per tile, MT tiles). Lane (g, t)
// holds sign word t of each 128-column chunk (columns 32t..32t+31) for rows g and g + 8, and pairs columns
// (p, p + 16) of that word: `w << (15 − p)` brings bit p to bit 15 and bit p + 16 to bit 31, and lop3 turns them into
// the pair (±1, ±1). The lane permutes its 32 activations of token row g into the same pairs (one byte_perm per
// pair); the MMA only needs A and B to agree on which k is which.
//
// Streaming as in groupwise_a16_aligned.cu: persistent blocks of 8 warps that split K, a warp taking one chunk of RT
// 16-row tiles per stage (two, sharing each x load, where the layer has a 32-channel tile for every block; else one);
// each stage's sign words and scales go through a per-warp ring in shared memory with cp.async (16-byte pieces: four
// rows of one word, or 16 bytes of a scale row), kStages deep; the warp's lanes read each other's pieces, so a
// __syncwarp follows the wait. Sign words sit [plane][word][row] with the row index XOR (4·RT)·word, so the 32 lanes'
// reads of (word t, row g) fall in 32 different banks.
namespace {

constexpr int kWarps = 8;
constexpr int kStages = 4;

// A warp's stage: one chunk of RT 16-row MMA tiles (a tile of 16·RT channels), Q planes of sign words and Q + 1 rows of
// scales (α planes, then the offsets).
template <int Q, typename S, int RT>
struct StageLayout {
  static constexpr int kRows = 16 * RT;
  static constexpr int kSignWords = Q * 4 * kRows;  // [plane][word][row ^ kRows/4·word]
  static constexpr int kSignPieces = kSignWords / 4;
  static constexpr int kScaleBytes = (Q + 1) * kRows * (int)sizeof(S);  // [α plane or offset][row]
  static constexpr int kBytes = kSignWords * 4 + kScaleBytes;  // per warp and stage, a multiple of 16
  static constexpr int kScalePieces = kScaleBytes / 16;
  static constexpr int kRingBytes = kStages * kWarps * kBytes;
};

// Two blocks per multiprocessor where the registers (up to 16 tokens) and shared memory allow: the ring plus the
// partial sums' two places (mma_partials.cuh) and the 1 KB the runtime keeps per block, within 228 KB.
template <int Q, typename S, int MT, int RT>
constexpr int kBlocksPerSm =
    MT <= 2 && 2 * (StageLayout<Q, S, RT>::kRingBytes + 2 * kWarps * 16 * RT * (8 * MT + 1) * 4 + 1024) <= 228 * 1024 ? 2 : 1;

template <typename T>
struct Ones;
template <> struct Ones<__nv_bfloat16> {
  static constexpr uint32_t kMinus = 0xBF80BF80u, kPlus = 0x3F803F80u;  // bf16 (−1, −1), (1, 1)
};
template <> struct Ones<__half> {
  static constexpr uint32_t kMinus = 0xBC00BC00u, kPlus = 0x3C003C00u;  // fp16 (−1, −1), (1, 1)
};

// The ±1 pair of columns (p, p + 16) of a sign word: bit set → +1.
template <typename T>
__device__ __forceinline__ uint32_t sign_pair(uint32_t word, int p) {
  return lop3<0x6A>(word << (15 - p), 0x80008000u, Ones<T>::kMinus);  // 0x6A: (a & b) ^ c
}

template <typename T, typename S, int MT, int Q, int RT>
__global__ void __launch_bounds__(kWarps * 32, kBlocksPerSm<Q, S, MT, RT>)
    bcq_stream_kernel(T* __restrict__ y, const T* __restrict__ x, const uint32_t* __restrict__ signs, const S* __restrict__ alpha,
                      const S* __restrict__ offset, const T* __restrict__ bias, int M, int N, int K, int group_shift, int64_t x_stride,
                      int64_t y_stride) {
  using L = StageLayout<Q, S, RT>;
  constexpr int kRows = L::kRows, kSwizzle = kRows / 4;  // sign word w's rows sit XOR kSwizzle·w
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  extern __shared__ uint4 ring[];  // [stage][warp][L::kBytes]
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, g = lane / 4, t = lane % 4;
  const int m0 = blockIdx.y * kBcqStreamTileTokens;
  x += (int64_t)m0 * x_stride;
  y += (int64_t)m0 * y_stride;
  M = min(M - m0, kBcqStreamTileTokens);
  const int chunks = K / 128, words = K / 32, groups = (chunks >> group_shift), tiles = (N + kRows - 1) / kRows;
  const int steps = (chunks + kWarps - 1) / kWarps;  // stages per tile
  auto stage_base = [&](int stage) { return reinterpret_cast<char*>(ring) + (stage * kWarps + warp) * L::kBytes; };

  StreamCursor in{(int)blockIdx.x, 0}, out{(int)blockIdx.x, 0};  // the next stage to copy, the next to compute
  // Copies `in`'s chunk into `stage` as one commit group, 16-byte pieces in turn over the lanes: four rows of one sign
  // word of one plane, then 16 bytes of a scale row. Pieces past N (N % 8 = 0: whole pieces) are zero-filled.
  auto issue = [&](int stage) {
    const int c = warp + in.step * kWarps;
    if (in.tile < tiles && c < chunks) {  // warp-uniform
      char* base = stage_base(stage);
      const int n0 = in.tile * kRows;
#pragma unroll
      for (int p = lane; p < L::kSignPieces; p += 32) {
        const int i = p / kRows, wd = p % kRows / (kRows / 4), r4 = p % (kRows / 4) * 4;
        const bool ok = n0 + r4 < N;
        const uint32_t* src = signs + ((int64_t)i * words + 4 * c + wd) * N + (ok ? n0 + r4 : 0);
        cp_async16(base + 4 * (i * 4 * kRows + wd * kRows + (r4 ^ kSwizzle * wd)), src, ok ? 16 : 0);
      }
      const int grp = c >> group_shift;
      constexpr int kPerRow = kRows * (int)sizeof(S) / 16;  // pieces per scale row
      for (int p = lane; p < L::kScalePieces; p += 32) {
        const int plane = p / kPerRow, r = p % kPerRow * (16 / (int)sizeof(S));
        const bool ok = n0 + r < N;
        const S* row = plane < Q ? alpha + ((int64_t)plane * groups + grp) * N : offset + (int64_t)grp * N;
        cp_async16(base + L::kSignWords * 4 + p * 16, row + (ok ? n0 + r : 0), ok ? 16 : 0);
      }
    }
    cp_async_commit();
    in.advance(steps);
  };

  const T* x_row[MT];  // the lane's token rows (past M: row M − 1) at its 32 columns of a chunk
#pragma unroll
  for (int j = 0; j < MT; j++) x_row[j] = x + (int64_t)min(j * 8 + g, M - 1) * x_stride + t * 32;
  float acc[RT][MT][4] = {};

#pragma unroll
  for (int st = 0; st < kStages - 1; st++) issue(st);
  pdl_wait();  // the weights need nothing from the kernel before, x does
  pdl_launch_dependents();
  while (out.tile < tiles) {  // block-uniform
#pragma unroll
    for (int st = 0; st < kStages; st++) {
      __syncwarp();                         // every lane is done reading the stage computed one step ago
      issue((st + kStages - 1) % kStages);  // which this refills
      cp_async_wait<kStages - 1>();         // this stage's copies have landed
      __syncwarp();                         // and every lane's are visible to the warp
      if (out.tile < tiles) {               // block-uniform
        const int c = warp + out.step * kWarps;
        if (c < chunks) {  // warp-uniform
          // x: 32 columns of token row g per tile, as pairs (p, p + 16).
          uint32_t xp[MT][16];
#pragma unroll
          for (int j = 0; j < MT; j++) {
            uint32_t r[16];
#pragma unroll
            for (int v = 0; v < 4; v++) {
              const uint4 q = __ldg(reinterpret_cast<const uint4*>(x_row[j] + c * 128) + v);
              r[4 * v] = q.x, r[4 * v + 1] = q.y, r[4 * v + 2] = q.z, r[4 * v + 3] = q.w;
            }
#pragma unroll
            for (int p = 0; p < 16; p++) xp[j][p] = __byte_perm(r[p / 2], r[8 + p / 2], (p & 1) ? 0x7632 : 0x5410);
          }
          // Σx over the chunk (its group) per token, in every row of the accumulator layout.
          float sum[MT][4] = {};
#pragma unroll
          for (int mm = 0; mm < 8; mm++)
#pragma unroll
            for (int j = 0; j < MT; j++)
              mma_f16_16x8x16<kBf16>(sum[j], Ones<T>::kPlus, Ones<T>::kPlus, Ones<T>::kPlus, Ones<T>::kPlus, xp[j][2 * mm], xp[j][2 * mm + 1]);
          const char* base = stage_base(st);
          const uint32_t* sg = reinterpret_cast<const uint32_t*>(base);
          const S* sc = reinterpret_cast<const S*>(base + L::kSignWords * 4);
#pragma unroll
          for (int b = 0; b < RT; b++) {
            const int lo = b * 16 + g, hi = lo + 8;
            const float off_lo = to_f(sc[Q * kRows + lo]), off_hi = to_f(sc[Q * kRows + hi]);
#pragma unroll
            for (int j = 0; j < MT; j++) add_scaled(acc[b][j], off_lo, off_hi, sum[j]);
#pragma unroll
            for (int i = 0; i < Q; i++) {
              const uint32_t w_lo = sg[i * 4 * kRows + t * kRows + (lo ^ kSwizzle * t)];
              const uint32_t w_hi = sg[i * 4 * kRows + t * kRows + (hi ^ kSwizzle * t)];
              float d[MT][4] = {};
#pragma unroll
              for (int mm = 0; mm < 8; mm++) {  // k16 step mm: pairs 2mm and 2mm + 1
                const uint32_t a0 = sign_pair<T>(w_lo, 2 * mm), a1 = sign_pair<T>(w_hi, 2 * mm);
                const uint32_t a2 = sign_pair<T>(w_lo, 2 * mm + 1), a3 = sign_pair<T>(w_hi, 2 * mm + 1);
#pragma unroll
                for (int j = 0; j < MT; j++) mma_f16_16x8x16<kBf16>(d[j], a0, a1, a2, a3, xp[j][2 * mm], xp[j][2 * mm + 1]);
              }
              const float a_lo = to_f(sc[i * kRows + lo]), a_hi = to_f(sc[i * kRows + hi]);
#pragma unroll
              for (int j = 0; j < MT; j++) add_scaled(acc[b][j], a_lo, a_hi, d[j]);
            }
          }
        }
        if (out.step == steps - 1) finish_tile<kWarps>(acc, warp, y, bias, M, N, out.tile * kRows, y_stride, out);
        out.advance(steps);
      }
    }
  }
}

template <typename T, typename S, int MT, int Q, int RT>
cudaError_t launch(T* y, const T* x, const uint32_t* signs, const S* alpha, const S* offset, const T* bias, int m, int n, int k,
                   int group_shift, int64_t xs, int64_t ys, cudaStream_t stream) {
  constexpr auto kernel = bcq_stream_kernel<T, S, MT, Q, RT>;
  constexpr int smem = StageLayout<Q, S, RT>::kRingBytes;
  if (const cudaError_t err = allow_dynamic_smem<kernel>(smem); err != cudaSuccess) return err;
  const int token_tiles = (m + kBcqStreamTileTokens - 1) / kBcqStreamTileTokens, tiles = (n + 16 * RT - 1) / (16 * RT);
  const dim3 grid(persistent_blocks(tiles, kBlocksPerSm<Q, S, MT, RT>, token_tiles), token_tiles), block(kWarps * 32);
  return launch_pdl(kernel, grid, block, smem, stream, y, x, signs, alpha, offset, bias, m, n, k, group_shift, xs, ys);
}

// A warp takes two 16-row tiles per stage (sharing each x load and its permutes) where the layer has a 32-channel tile
// for every block of the persistent grid, else one, so that no block idles.
template <typename T, typename S, int MT, int Q>
cudaError_t launch_tiles(T* y, const T* x, const uint32_t* signs, const S* alpha, const S* offset, const T* bias, int m, int n, int k,
                         int group_shift, int64_t xs, int64_t ys, cudaStream_t stream) {
  const int token_tiles = (m + kBcqStreamTileTokens - 1) / kBcqStreamTileTokens;
  if ((n + 31) / 32 >= stream_blocks(kBlocksPerSm<Q, S, MT, 2>, token_tiles))
    return launch<T, S, MT, Q, 2>(y, x, signs, alpha, offset, bias, m, n, k, group_shift, xs, ys, stream);
  return launch<T, S, MT, Q, 1>(y, x, signs, alpha, offset, bias, m, n, k, group_shift, xs, ys, stream);
}

template <typename T, typename S, int Q>
cudaError_t launch_rows(T* y, const T* x, const uint32_t* signs, const S* alpha, const S* offset, const T* bias, int m, int n, int k,
                        int group_shift, int64_t xs, int64_t ys, cudaStream_t stream) {
  if (m <= 8) return launch_tiles<T, S, 1, Q>(y, x, signs, alpha, offset, bias, m, n, k, group_shift, xs, ys, stream);
  if (m <= 16) return launch_tiles<T, S, 2, Q>(y, x, signs, alpha, offset, bias, m, n, k, group_shift, xs, ys, stream);
  return launch_tiles<T, S, 4, Q>(y, x, signs, alpha, offset, bias, m, n, k, group_shift, xs, ys, stream);
}

template <typename T, typename S>
cudaError_t launch_bits(void* y, const void* x, const uint32_t* signs, const void* alpha, const void* offset, const void* bias, int m, int n,
                        int k, int q, int group_shift, int64_t xs, int64_t ys, cudaStream_t stream) {
  auto go = [&](auto bits) {
    return launch_rows<T, S, decltype(bits)::value>((T*)y, (const T*)x, signs, (const S*)alpha, (const S*)offset, (const T*)bias, m, n, k,
                                                    group_shift, xs, ys, stream);
  };
  switch (q) {
    case 1: return go(std::integral_constant<int, 1>{});
    case 2: return go(std::integral_constant<int, 2>{});
    case 3: return go(std::integral_constant<int, 3>{});
    case 4: return go(std::integral_constant<int, 4>{});
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

bool bcq_stream_automatic() {
  static const bool on = !env_switched_off("INFERENCE_LUTGEMM_STREAM");
  return on;
}

bool bcq_stream_supports(int dtype, int n, int k, int group, const void* x, int64_t x_stride) {
  return dtype != 0 && group % 128 == 0 && (group & (group - 1)) == 0 && k % group == 0 && n % 8 == 0 &&
         reinterpret_cast<uintptr_t>(x) % 16 == 0 && x_stride % 8 == 0;
}

cudaError_t launch_bcq_stream(int dtype, void* y, const void* x, const uint32_t* signs, const void* alpha, const void* offset, int scale_dtype,
                              const void* bias, int m, int n, int k, int q, int group, int64_t x_stride, int64_t y_stride,
                              cudaStream_t stream) {
  if (!bcq_stream_supports(dtype, n, k, group, x, x_stride) || m < 1 || q < 1 || q > 4) return cudaErrorInvalidValue;
  const int group_shift = __builtin_ctz(group / 128);
  const bool half_scales = scale_dtype == 1;
  if (dtype == 1)
    return half_scales ? launch_bits<__half, __half>(y, x, signs, alpha, offset, bias, m, n, k, q, group_shift, x_stride, y_stride, stream)
                       : launch_bits<__half, float>(y, x, signs, alpha, offset, bias, m, n, k, q, group_shift, x_stride, y_stride, stream);
  return half_scales ? launch_bits<__nv_bfloat16, __half>(y, x, signs, alpha, offset, bias, m, n, k, q, group_shift, x_stride, y_stride, stream)
                     : launch_bits<__nv_bfloat16, float>(y, x, signs, alpha, offset, bias, m, n, k, q, group_shift, x_stride, y_stride, stream);
}
