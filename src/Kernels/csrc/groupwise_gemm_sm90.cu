#include "dequant_gemm_sm90.cuh"
#include "groupwise_gemm.h"
#include "groupwise_pair.cuh"
#include "int8_gemm.h"

// Hopper W4A16 group-wise GEMM: the INT4 weights policy of dequant_gemm_sm90.cuh, for groups of a multiple of 128
// columns. The weight tile of a stage is [64·C rows, 32·KB bytes] of packed codes (64·KB columns), 128-byte swizzled
// when its rows are 128 bytes, so that 8 consecutive rows read without bank conflicts.
namespace {

struct Int4Args {
  const float* scales;   // [N, K/G]
  const uint8_t* zeros;  // [N, K/G] or null (symmetric: 8)
  int group;
};

#ifdef IK_DEVICE_WGMMA
// Codes 2t and 2t+1 of a row (byte t of `word`, selector 0x4440 | t) as a dequantized 16-bit pair.
template <typename T>
__device__ __forceinline__ uint32_t int4_pair(uint32_t word, uint32_t sel, typename Pair<T>::T2 zb, typename Pair<T>::T2 sb) {
  using T2 = typename Pair<T>::T2;
  const uint32_t b = __byte_perm(word, 0u, sel);                 // 0x000000hl: h = code 2t+1, l = code 2t
  uint32_t v = magic_pair<T>(b * 0x1001u);  // (base + l, base + h)
  T2 h = __hmul2(__hsub2(*reinterpret_cast<T2*>(&v), zb), sb);
  return *reinterpret_cast<uint32_t*>(&h);
}
#endif

template <typename T>
struct Int4Weights {
  using Args = Int4Args;
  template <int C, int KB>
  struct Tile {
    using Args = Int4Args;
    static constexpr int kPitch = KB * 32;  // packed bytes of one row per stage
    static constexpr int kTileBytes = 64 * C * kPitch;
    static constexpr int kSets = dequant_param_sets(KB);
    static_assert(KB == 1 || KB == 4, "the swizzle follows the row length: 128-byte rows (KB = 4) swizzled, 32-byte rows not");

    __device__ static void load(uint8_t* dst, const CUtensorMap* map, int kt, int n0, uint64_t* bar) {
#ifdef IK_DEVICE_WGMMA
      tma_load_2d(dst, map, kt * kPitch, n0, bar);
#endif
    }

    struct Lane {
      const float* s_row[2];
      const uint8_t* z_row[2];
      DequantGroups group_of;
      int r_lo;
      uint32_t sel;
      // [parity][set][row lo, hi]. Zero points stay as loaded until decode converts them: converting in fetch would
      // hold the warp at the conversion for the load's whole latency, once per stage.
      float s[2][kSets][2];
      uint32_t z[2][kSets][2];

      __device__ Lane(const Args& a, int n0, int r, int N, int K, int lane)
          : group_of(a.group, K / a.group), r_lo(r), sel(0x4440u | (lane % 4)) {
#pragma unroll
        for (int rr = 0; rr < 2; rr++) {
          const int64_t row = (int64_t)min(n0 + r + 8 * rr, N - 1) * (K / a.group);
          s_row[rr] = a.scales + row;
          z_row[rr] = a.zeros ? a.zeros + row : nullptr;
        }
      }
      template <int P>
      __device__ void fetch(int kt) {
#pragma unroll
        for (int j = 0; j < kSets; j++) {
          const int grp = group_of(kt, KB, j);
#pragma unroll
          for (int rr = 0; rr < 2; rr++) {
            s[P][j][rr] = __ldg(s_row[rr] + grp);
            z[P][j][rr] = z_row[rr] ? __ldg(z_row[rr] + grp) : 8u;
          }
        }
      }
#ifdef IK_DEVICE_WGMMA
      template <int P>
      __device__ void decode(const uint8_t* tile, int b, uint32_t (&f)[4][4]) const {
        using Pr = Pair<T>;
        using T2 = typename Pr::T2;
        uint32_t w[2][8];  // rows lo, hi: the box's 32 bytes
        T2 zb[2], sb[2];
#pragma unroll
        for (int rr = 0; rr < 2; rr++) {
          const int r = r_lo + 8 * rr;
#pragma unroll
          for (int h = 0; h < 2; h++) {
            const int chunk = 2 * b + h, phys = KB == 4 ? chunk ^ (r & 7) : chunk;
            const uint4 q = *reinterpret_cast<const uint4*>(tile + r * kPitch + phys * 16);
            w[rr][4 * h] = q.x, w[rr][4 * h + 1] = q.y, w[rr][4 * h + 2] = q.z, w[rr][4 * h + 3] = q.w;
          }
          zb[rr] = Pr::both(Pr::kBase + (float)z[P][b / 2][rr]);
          sb[rr] = Pr::both(s[P][b / 2][rr]);
        }
#pragma unroll
        for (int st = 0; st < 4; st++) {  // words 2st (k 0..7 of the step) and 2st+1 (k 8..15)
          f[st][0] = int4_pair<T>(w[0][2 * st], sel, zb[0], sb[0]);
          f[st][1] = int4_pair<T>(w[1][2 * st], sel, zb[1], sb[1]);
          f[st][2] = int4_pair<T>(w[0][2 * st + 1], sel, zb[0], sb[0]);
          f[st][3] = int4_pair<T>(w[1][2 * st + 1], sel, zb[1], sb[1]);
        }
      }
#endif
    };
  };
};

}  // namespace

// On Hopper at 17-128 rows, between the mma.sync streaming kernel (decode) and dequantize + cuBLAS (prefill): on an
// H200 at Llama-3-8B's shapes it is 1.9x faster than the streaming kernel at M = 64, slower at M = 16 and slower than
// dequantize + cuBLAS at M = 1024 (docs/benchmarks/h200-zeroquant-kernels.json). INFERENCE_GROUPWISE_SM90=0 turns it
// off, INFERENCE_GROUPWISE_SM90_ALL_M=1 sends every M to it (for comparisons).
bool groupwise_gemm_sm90_supports(int bits, int group, int64_t m, const void* x, int64_t x_stride, cudaStream_t stream) {
  static const bool enabled = !env_switched_off("INFERENCE_GROUPWISE_SM90");
  static const bool every_m = env_switched_on("INFERENCE_GROUPWISE_SM90_ALL_M");
  return enabled && (every_m || (m >= 17 && m <= 128)) && bits == 4 && group > 0 && group % 128 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
         x_stride % 8 == 0 && int8_gemm_sm90_available(stream);
}

cudaError_t launch_groupwise_gemm_a16_sm90(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                           const uint8_t* zeros, const void* bias, int m, int n, int k, int group, int64_t x_stride,
                                           int64_t y_stride, cudaStream_t stream) {
  if (m < 1 || n < 1 || group <= 0 || k < group || group % 128 != 0 || k % group != 0) return cudaErrorInvalidValue;
  const Int4Args args{scales, zeros, group};
  // The packed codes [N, K/2] as [64·C rows, 32·KB bytes] boxes, 128-byte swizzled where the rows are 128 bytes.
  auto make_map = [&](int rows, int cols, CUtensorMap* map) {
    const int bytes = cols / 2;
    return tile_map_2d(map, packed, false, n, k / 2, k / 2, bytes, rows, bytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE)
               ? rows * bytes
               : 0;
  };
  if (dtype == 1)
    return launch_dequant_gemm<__half, Int4Weights<__half>>((const __half*)x, make_map, args, (__half*)y, (const __half*)bias, m, n, k, x_stride,
                                                            y_stride, stream);
  if (dtype == 2)
    return launch_dequant_gemm<__nv_bfloat16, Int4Weights<__nv_bfloat16>>((const __nv_bfloat16*)x, make_map, args, (__nv_bfloat16*)y,
                                                                          (const __nv_bfloat16*)bias, m, n, k, x_stride, y_stride, stream);
  return cudaErrorInvalidValue;
}
