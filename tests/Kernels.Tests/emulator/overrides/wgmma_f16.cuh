// Host version of src/Kernels/csrc/wgmma_f16.cuh: D[64×N] (+)= A[64×16] · B[16×N] with A from the warpgroup's
// registers (warp w: rows 16w..16w+15 in the mma.m16n8k16 A layout) and B K-major through a descriptor, recorded and
// computed like wgmma_s8 in ptx_sm90.cuh. Products are exact in float; each output's 16 are summed in double.
#pragma once
#include <cstdint>
#include "ptx_sm90.cuh"

namespace simt_sm90 {
struct RsArgs {
  float* d;
  const uint32_t* a;
  uint64_t desc;
  bool accumulate;
  int rank, key;
};
template <bool Bf16, int N>
void rs_issue(void* const* lanes, int) {
  const auto& first = *static_cast<const RsArgs*>(lanes[0]);
  std::vector<float*> d(128);
  std::vector<const uint32_t*> a(128);
  for (int l = 0; l < 128; l++) {
    d[l] = static_cast<const RsArgs*>(lanes[l])->d;
    a[l] = static_cast<const RsArgs*>(lanes[l])->a;
  }
  const uint64_t desc = first.desc;
  const bool accumulate = first.accumulate;
  const int rank = first.rank;
  simt::g_async[first.key].open.push_back([d, a, desc, accumulate, rank] {
    static float A[64][16], B[N][16];
    for (int l = 0; l < 128; l++) {
      const int w = l / 32, g = l % 32 / 4, t = l % 4;
      for (int i = 0; i < 2; i++) {
        A[16 * w + g][2 * t + i] = simt_mma::half_at<Bf16>(a[l][0], i);
        A[16 * w + g + 8][2 * t + i] = simt_mma::half_at<Bf16>(a[l][1], i);
        A[16 * w + g][2 * t + 8 + i] = simt_mma::half_at<Bf16>(a[l][2], i);
        A[16 * w + g + 8][2 * t + 8 + i] = simt_mma::half_at<Bf16>(a[l][3], i);
      }
    }
    for (int n = 0; n < N; n++)
      for (int k = 0; k < 16; k++) {
        uint16_t h;
        std::memcpy(&h, desc_byte(desc, n, 2 * k, rank), 1);
        std::memcpy(reinterpret_cast<uint8_t*>(&h) + 1, desc_byte(desc, n, 2 * k + 1, rank), 1);
        B[n][k] = simt_mma::half_at<Bf16>(h, 0);
      }
    for (int l = 0; l < 128; l++)
      for (int j = 0; j < N / 8; j++)
        for (int e = 0; e < 4; e++) {
          const int row = acc_row(l, e), col = acc_col(l, j, e);
          double s = 0;
          for (int k = 0; k < 16; k++) s += (double)A[row][k] * B[col][k];
          float& out = d[l][4 * j + e];
          out = accumulate ? (float)((double)out + s) : (float)s;
        }
  });
}
}  // namespace simt_sm90

template <bool Bf16, int N>
inline void wgmma_rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t desc, bool accumulate) {
  simt_sm90::RsArgs args{d, a, desc, accumulate, simt::g_thread->rank, simt_sm90::warpgroup_key()};
  simt::group_op(simt_sm90::rs_issue<Bf16, N>, &args, 128);
}
