#include "dequant_gemm_sm90.cuh"
#include "groupwise_pair.cuh"
#include "int8_gemm.h"
#include "lut_gemm.h"

// Hopper tensor-core path of LUT-GEMM (more rows than the table kernel takes): the binary-coded weights policy of
// dequant_gemm_sm90.cuh, for groups of a multiple of 128 columns. A stage's weight tile is the sign words
// [q planes, 2·KB words, 64·C rows] of its 64·KB columns (one 3-d TMA box of the [q, W, N] layout; rows innermost, so
// 8 consecutive rows read from 8 banks). A fragment pair is Σ_i ±α_i + offset in float32, the order of
// launch_bcq_dequantize, rounded once to the 16-bit type.
namespace {

template <typename Sc>
struct BcqArgs {
  const Sc* alpha;   // [q, G, N]
  const Sc* offset;  // [G, N]
  int q, group;
};

template <typename T, typename Sc>
struct BcqWeights {
  using Args = BcqArgs<Sc>;
  template <int C, int KB>
  struct Tile {
    using Args = BcqArgs<Sc>;
    static constexpr int kWords = 2 * KB, kRows = 64 * C;
    static constexpr int kTileBytes = 4 * kWords * kRows * 4;  // q ≤ 4 planes
    static constexpr int kSets = dequant_param_sets(KB);

    __device__ static void load(uint8_t* dst, const CUtensorMap* map, int kt, int n0, uint64_t* bar) {
#ifdef IK_DEVICE_WGMMA
      tma_load_3d(dst, map, n0, kt * kWords, 0, bar);
#endif
    }

    struct Lane {
      const Sc* a_col[2];  // α and offset of rows lo, hi (column n of [q·G, N] and [G, N])
      const Sc* o_col[2];
      int64_t N;
      int q, G, r_lo, t2;
      DequantGroups group_of;
      // [parity][set][row lo, hi][plane], as loaded: decode converts a box's set, so that no conversion holds the warp
      // for the loads' latency in fetch.
      Sc al[2][kSets][2][4], of[2][kSets][2];

      __device__ Lane(const Args& a, int n0, int r, int n, int K, int lane)
          : N(n), q(a.q), G((K + a.group - 1) / a.group), r_lo(r), t2(2 * (lane % 4)), group_of(a.group, G) {
#pragma unroll
        for (int rr = 0; rr < 2; rr++) {
          const int col = min(n0 + r + 8 * rr, n - 1);
          a_col[rr] = a.alpha + col;
          o_col[rr] = a.offset + col;
        }
      }
      template <int P>
      __device__ void fetch(int kt) {
#pragma unroll
        for (int j = 0; j < kSets; j++) {
          const int64_t g = group_of(kt, KB, j);
#pragma unroll
          for (int rr = 0; rr < 2; rr++) {
#pragma unroll
            for (int i = 0; i < 4; i++) al[P][j][rr][i] = i < q ? a_col[rr][((int64_t)i * G + g) * N] : Sc{};
            of[P][j][rr] = o_col[rr][g * N];
          }
        }
      }
#ifdef IK_DEVICE_WGMMA
      // offset + Σ_{i<Q} (bit i of the element ? +α_i : −α_i); sign[i] holds the inverted bit at bit 31.
      template <int Q>
      __device__ static float value(const float (&al)[4], float of, const uint32_t (&sign)[4]) {
        float s = of;
#pragma unroll
        for (int i = 0; i < Q; i++) s += __int_as_float(__float_as_int(al[i]) ^ (sign[i] & 0x80000000u));
        return s;
      }
      // Box b's fragments: one branch on the warp-uniform q, then Q planes with nothing computed for the others.
      template <int P>
      __device__ void decode(const uint8_t* tile, int b, uint32_t (&f)[4][4]) const {
        switch (q) {
          case 1: decode_planes<P, 1>(tile, b, f); break;
          case 2: decode_planes<P, 2>(tile, b, f); break;
          case 3: decode_planes<P, 3>(tile, b, f); break;
          default: decode_planes<P, 4>(tile, b, f); break;
        }
      }
      template <int P, int Q>
      __device__ void decode_planes(const uint8_t* tile, int b, uint32_t (&f)[4][4]) const {
        const uint32_t* wt = reinterpret_cast<const uint32_t*>(tile);
#pragma unroll
        for (int rr = 0; rr < 2; rr++) {
          const int r = r_lo + 8 * rr;
          float al_f[4], of_f = to_f(of[P][b / 2][rr]);
#pragma unroll
          for (int i = 0; i < 4; i++) al_f[i] = to_f(al[P][b / 2][rr][i]);
#pragma unroll
          for (int h = 0; h < 2; h++) {  // word 2b + h: k16 steps 2h and 2h + 1
            uint32_t words[4];
#pragma unroll
            for (int i = 0; i < Q; i++) words[i] = ~wt[(i * kWords + 2 * b + h) * kRows + r];
#pragma unroll
            for (int s2 = 0; s2 < 2; s2++) {
              uint32_t v[4], e0[4], e1[4], e8[4], e9[4];  // bit j of v: element 2t + j of the step
#pragma unroll
              for (int i = 0; i < Q; i++) {
                v[i] = words[i] >> (16 * s2 + t2);
                e0[i] = v[i] << 31, e1[i] = v[i] << 30, e8[i] = v[i] << 23, e9[i] = v[i] << 22;
              }
              const int st = 2 * h + s2;
              f[st][rr] = Pair<T>::pack(value<Q>(al_f, of_f, e0), value<Q>(al_f, of_f, e1));
              f[st][2 + rr] = Pair<T>::pack(value<Q>(al_f, of_f, e8), value<Q>(al_f, of_f, e9));
            }
          }
        }
      }
#endif
    };
  };
};

template <typename T, typename Sc>
cudaError_t launch_typed(const void* x, const uint32_t* signs, const void* alpha, const void* offset, const void* bias, void* y, int m, int n,
                         int k, int q, int group, int64_t xs, int64_t ys, cudaStream_t st) {
  const BcqArgs<Sc> args{(const Sc*)alpha, (const Sc*)offset, q, group};
  const int W = (k + 31) / 32;
  auto make_map = [&](int rows, int cols, CUtensorMap* map) {
    const int words = cols / 32;
    return tile_map_3d_u32(map, signs, n, W, q, rows, words, q) ? rows * words * q * 4 : 0;
  };
  return launch_dequant_gemm<T, BcqWeights<T, Sc>>((const T*)x, make_map, args, (T*)y, (const T*)bias, m, n, k, xs, ys, st);
}

}  // namespace

bool bcq_gemm_sm90_supports(int dtype, int group, const void* x, int64_t x_stride, cudaStream_t stream) {
  static const bool enabled = !env_switched_off("INFERENCE_LUTGEMM_SM90");
  return enabled && (dtype == 1 || dtype == 2) && group > 0 && group % 128 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 && x_stride % 8 == 0 &&
         int8_gemm_sm90_available(stream);
}

cudaError_t launch_bcq_gemm_sm90(int dtype, void* y, const void* x, const uint32_t* signs, const void* alpha, const void* offset,
                                 int scale_dtype, const void* bias, int m, int n, int k, int q, int group, int64_t x_stride, int64_t y_stride,
                                 cudaStream_t stream) {
  if (m < 1 || n < 1 || k < 1 || q < 1 || q > 4 || group <= 0 || group % 128 != 0 || n % 4 != 0) return cudaErrorInvalidValue;
  switch (dtype * 2 + scale_dtype) {
    case 2: return launch_typed<__half, float>(x, signs, alpha, offset, bias, y, m, n, k, q, group, x_stride, y_stride, stream);
    case 3: return launch_typed<__half, __half>(x, signs, alpha, offset, bias, y, m, n, k, q, group, x_stride, y_stride, stream);
    case 4: return launch_typed<__nv_bfloat16, float>(x, signs, alpha, offset, bias, y, m, n, k, q, group, x_stride, y_stride, stream);
    case 5: return launch_typed<__nv_bfloat16, __half>(x, signs, alpha, offset, bias, y, m, n, k, q, group, x_stride, y_stride, stream);
    default: return cudaErrorInvalidValue;
  }
}
