// Host versions of src/Kernels/csrc/mma.cuh (same names and signatures, so the kernels compile unchanged): the
// tensor-core instructions run as warp-wide operations of the emulator (simt.h) on the fragment layouts the PTX ISA
// defines; the memory helpers are plain accesses with the device's alignment rules.
#pragma once
#include <cstdint>
#include "cuda_fp16.h"

namespace simt_mma {

struct F16Args {
  uint32_t a[4], b[2];
  float* d;
};
struct S8Args {
  uint32_t a[4], b[2];
  int* d;
};

template <bool Bf16>
inline float half_at(uint32_t reg, int i) {
  const uint16_t h = (uint16_t)(reg >> (16 * i));
  return Bf16 ? __bfloat162float(__nv_bfloat16{h}) : __half2float(__half{h});
}

// m16n8k16, A row-major 16x16, B column-major 16x8 (lane = 4g + t):
// a0: A[g][2t, 2t+1], a1: A[g+8][2t, 2t+1], a2: A[g][2t+8, 2t+9], a3: A[g+8][2t+8, 2t+9]; b0: B[2t, 2t+1][g],
// b1: B[2t+8, 2t+9][g]; d0, d1: D[g][2t, 2t+1], d2, d3: D[g+8][2t, 2t+1]. Products are exact in float; each
// output's 16 products are summed in double and added to the accumulator once.
template <bool Bf16>
void f16_op(void* const* lanes, int) {
  float A[16][16], B[16][8];
  for (int l = 0; l < 32; l++) {
    const auto& L = *static_cast<const F16Args*>(lanes[l]);
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 2; i++) {
      A[g][2 * t + i] = half_at<Bf16>(L.a[0], i);
      A[g + 8][2 * t + i] = half_at<Bf16>(L.a[1], i);
      A[g][2 * t + 8 + i] = half_at<Bf16>(L.a[2], i);
      A[g + 8][2 * t + 8 + i] = half_at<Bf16>(L.a[3], i);
      B[2 * t + i][g] = half_at<Bf16>(L.b[0], i);
      B[2 * t + 8 + i][g] = half_at<Bf16>(L.b[1], i);
    }
  }
  for (int l = 0; l < 32; l++) {
    const auto& L = *static_cast<const F16Args*>(lanes[l]);
    const int g = l / 4, t = l % 4;
    for (int e = 0; e < 4; e++) {
      const int row = g + (e >= 2 ? 8 : 0), col = 2 * t + (e & 1);
      double s = 0;
      for (int k = 0; k < 16; k++) s += (double)A[row][k] * B[k][col];
      L.d[e] = (float)((double)L.d[e] + s);
    }
  }
}

// m16n8k32 s8: a0: A[g][4t..4t+3], a1: A[g+8][4t..], a2: A[g][16+4t..], a3: A[g+8][16+4t..] (bytes, low first);
// b0: B[4t..4t+3][g], b1: B[16+4t..][g]; d as above. Exact in int32.
inline void s8_op(void* const* lanes, int) {
  int A[16][32], B[32][8];
  for (int l = 0; l < 32; l++) {
    const auto& L = *static_cast<const S8Args*>(lanes[l]);
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; i++) {
      A[g][4 * t + i] = (int8_t)(L.a[0] >> (8 * i));
      A[g + 8][4 * t + i] = (int8_t)(L.a[1] >> (8 * i));
      A[g][16 + 4 * t + i] = (int8_t)(L.a[2] >> (8 * i));
      A[g + 8][16 + 4 * t + i] = (int8_t)(L.a[3] >> (8 * i));
      B[4 * t + i][g] = (int8_t)(L.b[0] >> (8 * i));
      B[16 + 4 * t + i][g] = (int8_t)(L.b[1] >> (8 * i));
    }
  }
  for (int l = 0; l < 32; l++) {
    const auto& L = *static_cast<const S8Args*>(lanes[l]);
    const int g = l / 4, t = l % 4;
    for (int e = 0; e < 4; e++) {
      const int row = g + (e >= 2 ? 8 : 0), col = 2 * t + (e & 1);
      int s = 0;
      for (int k = 0; k < 32; k++) s += A[row][k] * B[k][col];
      L.d[e] += s;
    }
  }
}

struct LdmatrixArgs {
  const uint32_t* row;  // this lane's row: 16 bytes of matrix lane / 8
  uint32_t* r;
};
// ldmatrix .x4: lane (g, t) receives, from each matrix i, the 32-bit element t of row g.
inline void ldmatrix_op(void* const* lanes, int) {
  uint32_t m[4][8][4];
  for (int l = 0; l < 32; l++) std::memcpy(m[l / 8][l % 8], static_cast<const LdmatrixArgs*>(lanes[l])->row, 16);
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < 4; i++) static_cast<const LdmatrixArgs*>(lanes[l])->r[i] = m[i][l / 4][l % 4];
}

}  // namespace simt_mma

inline void mma_s8_16x8x32(int (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
  simt_mma::S8Args args{{a0, a1, a2, a3}, {b0, b1}, d};
  simt::warp_op(simt_mma::s8_op, &args);
}

template <bool Bf16>
inline void mma_f16_16x8x16(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
  simt_mma::F16Args args{{a0, a1, a2, a3}, {b0, b1}, d};
  simt::warp_op(simt_mma::f16_op<Bf16>, &args);
}

inline uint4 ld_stream(const void* p) { return __ldg(static_cast<const uint4*>(p)); }
inline uint32_t ld_stream_u32(const uint32_t* p) { return __ldg(p); }

inline uint32_t smem_addr(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
inline float ld_shared_f32(uint32_t addr) { return __ldg(static_cast<const float*>(simt::shared_pointer(addr))); }

// cp.async completes at once here (waiting can only make it later on the device), zero-filling past src_bytes.
inline void cp_async16(void* smem, const void* gmem, int src_bytes) {
  simt::check_aligned(static_cast<const uint4*>(smem), "cp.async destination");
  if (src_bytes > 0) simt::check_aligned(static_cast<const uint4*>(gmem), "cp.async source");
  std::memset(smem, 0, 16);
  if (src_bytes > 0) std::memcpy(smem, gmem, (size_t)src_bytes);
}
inline void cp_async_commit() {}
template <int N>
inline void cp_async_wait() {}

inline void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
  simt::check_aligned(static_cast<const uint4*>(smem_row), "ldmatrix row");
  simt_mma::LdmatrixArgs args{static_cast<const uint32_t*>(smem_row), r};
  simt::warp_op(simt_mma::ldmatrix_op, &args);
}
