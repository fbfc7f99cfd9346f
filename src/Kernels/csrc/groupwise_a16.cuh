// Pieces of the group-wise A16 streaming kernels (groupwise_gemm.cu's general one, groupwise_a16_aligned.cu's):
// the weight is the MMA's "A" (16 output channels per warp), the tokens its "B" (8 per tile). Lane (g, t) streams
// 16 packed bytes of rows g and g+8 at byte offset 16·t of each 64-byte chunk (32 int4 or 16 int8 codes, all in one
// group since G is a multiple of 32), and the same k range of each token row; the MMA only needs A and B to agree on
// which k is which, and lane (g, t)'s k set depends on t alone, so no shuffles or shared memory sit between the loads
// and the tensor cores. INT4 codes become bf16/fp16 with the magic-exponent trick: (word >> 4i) & 0x000F000F |
// 0x43004300 is the bf16 pair (128 + u_i, 128 + u_{i+4}) (fp16: 0x6400, 1024 + u); subtracting 128 + z is exact,
// then one multiply by the group's scale. So the pairs hold k = (i, i+4) of each word and the lane permutes its x
// registers to match (one byte_perm per pair). INT8 codes go through float (8388608 + u from one byte_perm, exact
// subtract, scale) and keep their natural pair order.
#pragma once
#include <type_traits>
#include "dtype_convert.cuh"
#include "groupwise_gemm.h"
#include "groupwise_pair.cuh"
#include "mma.cuh"
#include "mma_partials.cuh"

namespace groupwise_a16 {

constexpr int kWarps = 8;  // warps per block; they split K and meet in reduce_partials_store (mma_partials.cuh)

// 16 packed bytes of one row → register pairs for the MMA. Bits 4: 16 pairs, pair 4j+i = k (8j+i, 8j+i+4) of
// word j. Bits 8: 8 pairs in natural order (2c, 2c+1). Scaled: (u − z)·s rounded to T; unscaled: u − z, exact.
template <typename T, int Bits, bool Scaled>
__device__ __forceinline__ void dequant_piece(uint32_t (&out)[64 / Bits], uint4 q, float s, float z) {
  using P = Pair<T>;
  const uint32_t w[4] = {q.x, q.y, q.z, q.w};
  if constexpr (Bits == 4) {
    const typename P::T2 zb = P::both(P::kBase + z), sb = P::both(s);
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        uint32_t v = magic_pair<T>(w[j] >> (4 * i));
        typename P::T2 h = __hsub2(*reinterpret_cast<typename P::T2*>(&v), zb);
        if constexpr (Scaled) h = __hmul2(h, sb);
        out[4 * j + i] = *reinterpret_cast<uint32_t*>(&h);
      }
  } else {
    const float zf = 8388608.f + z;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float f[4];
#pragma unroll
      for (int b = 0; b < 4; b++) {
        f[b] = __int_as_float(__byte_perm(w[j], 0x4B000000u, 0x7540 | b)) - zf;
        if constexpr (Scaled) f[b] *= s;
      }
      out[2 * j] = P::pack(f[0], f[1]);
      out[2 * j + 1] = P::pack(f[2], f[3]);
    }
  }
}

// Moves x, y and M to this block's tile of kGroupwiseA16TileRows tokens (grid.y): M becomes the tile's token count.
template <typename XPtr, typename YPtr>  // the kernels' (restrict-qualified) x and y pointers
__device__ __forceinline__ void enter_token_tile(XPtr& x, YPtr& y, int& M, int64_t x_stride, int64_t y_stride) {
  const int m0 = blockIdx.y * kGroupwiseA16TileRows;
  x += (int64_t)m0 * x_stride;
  y += (int64_t)m0 * y_stride;
  M = min(M - m0, kGroupwiseA16TileRows);
}

// The 32 activations of a lane's INT4 piece (r: 16 words, k = 2w and 2w + 1 in word w) in the codes' pair order:
// pair 4j + i holds k = (8j + i, 8j + i + 4).
__device__ __forceinline__ void permute_x_int4(uint32_t (&xp)[16], const uint32_t (&r)[16]) {
#pragma unroll
  for (int jj = 0; jj < 4; jj++)
#pragma unroll
    for (int i = 0; i < 4; i++) xp[4 * jj + i] = __byte_perm(r[4 * jj + i / 2], r[4 * jj + 2 + i / 2], (i & 1) ? 0x7632 : 0x5410);
}

// The 32 activations at k0 of row x_row as 16 words in natural order (k = 2w, 2w + 1 in word w).
template <typename T>
__device__ __forceinline__ void load_x_words(uint32_t (&r)[16], const T* x_row, int64_t k0) {
#pragma unroll
  for (int v = 0; v < 4; v++) {
    const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x_row + k0) + v);
    r[4 * v] = xv.x, r[4 * v + 1] = xv.y, r[4 * v + 2] = xv.z, r[4 * v + 3] = xv.w;
  }
}

// The 32 activations of a lane's INT4 piece at k0 of row x_row, in pair order.
template <typename T>
__device__ __forceinline__ void load_x_int4(uint32_t (&xp)[16], const T* x_row, int64_t k0) {
  uint32_t r[16];
  load_x_words(r, x_row, k0);
  permute_x_int4(xp, r);
}

// One piece of rows lo/hi against MT token tiles: dequantize, load x [k0, k0 + 512/Bits/4) of each tile's row g
// (zeros where `ok` is false), MMA. ScaleAfter (the piece's codes all share one scale per row): the fragments hold the
// exact integers u − z, the MMAs go into a fresh accumulator, and the row's scale multiplies that into acc in float;
// otherwise the scale is applied to the fragments. acc [MT][4]: the m16n8 accumulator of each token tile.
template <typename T, int Bits, int MT, bool ScaleAfter>
__device__ __forceinline__ void a16_piece(float (&acc)[MT][4], uint4 q_lo, uint4 q_hi, float s_lo, float s_hi, float z_lo, float z_hi,
                                          const T* const (&x_row)[MT], const bool (&x_ok)[MT], int64_t k0, bool ok) {
  constexpr int kPairs = 64 / Bits;  // register pairs per 16-byte piece (16 or 8)
  constexpr int kX = 64 / Bits / 4;  // uint4 loads of x per piece per token (4 or 2)
  uint32_t wa[kPairs], wb[kPairs];
  dequant_piece<T, Bits, !ScaleAfter>(wa, q_lo, s_lo, z_lo);
  dequant_piece<T, Bits, !ScaleAfter>(wb, q_hi, s_hi, z_hi);
#pragma unroll
  for (int j = 0; j < MT; j++) {
    uint32_t xp[kPairs];
    auto load_x = [&](uint32_t (&r)[kPairs]) {
#pragma unroll
      for (int v = 0; v < kX; v++) {
        const uint4 xv = ok && x_ok[j] ? __ldg(reinterpret_cast<const uint4*>(x_row[j] + k0) + v) : make_uint4(0, 0, 0, 0);
        r[4 * v] = xv.x, r[4 * v + 1] = xv.y, r[4 * v + 2] = xv.z, r[4 * v + 3] = xv.w;
      }
    };
    if constexpr (Bits == 4) {
      if (ok && x_ok[j]) {
        load_x_int4(xp, x_row[j], k0);
      } else {
#pragma unroll
        for (int p = 0; p < kPairs; p++) xp[p] = 0;
      }
    } else {
      load_x(xp);
    }
    // ScaleAfter: two fresh accumulators, even and odd k16 steps, so that the piece's MMAs form two dependent chains of
    // kPairs / 4 instead of one of kPairs / 2 (each MMA waits for the one before it in its chain).
    float d[4] = {0.f, 0.f, 0.f, 0.f}, e[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int mm = 0; mm < kPairs / 2; mm++) {
      float (&dst)[4] = !ScaleAfter ? acc[j] : (mm & 1) ? e : d;
      mma_f16_16x8x16<std::is_same_v<T, __nv_bfloat16>>(dst, wa[2 * mm], wb[2 * mm], wa[2 * mm + 1], wb[2 * mm + 1], xp[2 * mm], xp[2 * mm + 1]);
    }
    if constexpr (ScaleAfter) {
      const float de[4] = {d[0] + e[0], d[1] + e[1], d[2] + e[2], d[3] + e[3]};
      add_scaled(acc[j], s_lo, s_hi, de);
    }
  }
}

// One token's INT4 piece of rows lo/hi, every code in one group, with x already in pair order in shared memory (four
// uint4 that are 4 uint4 apart: x_perm[0], [4], [8], [12]) and x_sum = the sum of those 32 activations of the chunk
// over all four lanes t, i.e. of the whole 128 columns. The fragments are the magic-exponent pairs as they come
// (kBase + u, exact), and the zero point comes off once per chunk after the MMAs:
// Σ x·(u − z) = Σ x·(kBase + u) − (kBase + z)·Σ x. That drops the subtraction, one of the three instructions per pair
// (shift, lop3, subtract). The cancellation costs float accumulation about kBase / |u − z| times the error of the
// exact-integer fragments (≈1e-5 relative in bf16).
// acc [4]: the m16n8 accumulator (every column is the one token).
template <typename T>
__device__ __forceinline__ void a16_piece_x_shared(float (&acc)[4], uint4 q_lo, uint4 q_hi, float s_lo, float s_hi, float z_lo, float z_hi,
                                                   const uint4* x_perm, float x_sum) {
  using P = Pair<T>;
  uint32_t xp[16];
#pragma unroll
  for (int v = 0; v < 4; v++) {
    const uint4 xv = x_perm[4 * v];
    xp[4 * v] = xv.x, xp[4 * v + 1] = xv.y, xp[4 * v + 2] = xv.z, xp[4 * v + 3] = xv.w;
  }
  const uint32_t lo[4] = {q_lo.x, q_lo.y, q_lo.z, q_lo.w}, hi[4] = {q_hi.x, q_hi.y, q_hi.z, q_hi.w};
  // Two accumulators, even and odd k16 steps: two dependent MMA chains of four instead of one of eight.
  float d[4] = {0.f, 0.f, 0.f, 0.f}, e[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int mm = 0; mm < 8; mm++) {  // k16 step mm: pairs 2mm and 2mm + 1 of word mm / 2 (pair i of a word: k (i, i + 4))
    const int wd = mm / 2, i = 2 * (mm % 2);
    float (&dst)[4] = (mm & 1) ? e : d;
    mma_f16_16x8x16<std::is_same_v<T, __nv_bfloat16>>(dst, magic_pair<T>(lo[wd] >> (4 * i)), magic_pair<T>(hi[wd] >> (4 * i)),
                                                      magic_pair<T>(lo[wd] >> (4 * i + 4)), magic_pair<T>(hi[wd] >> (4 * i + 4)),
                                                      xp[2 * mm], xp[2 * mm + 1]);
  }
  const float c_lo = (P::kBase + z_lo) * x_sum, c_hi = (P::kBase + z_hi) * x_sum;
  const float de[4] = {d[0] + e[0] - c_lo, d[1] + e[1] - c_lo, d[2] + e[2] - c_hi, d[3] + e[3] - c_hi};
  add_scaled(acc, s_lo, s_hi, de);
}

// RB row tiles (16 channels each) of one INT4 chunk against MT token tiles, every code of the chunk in one group:
// q[b] = the lane's pieces of tile b's rows lo/hi, s/z[b] their scales and zero points. Each token tile's x is loaded
// and permuted once and feeds all RB row tiles, so a warp reads 2·MT/RB bytes of x per weight byte where a16_piece
// reads 2·MT. The fragments hold the exact u − z; row tile by row tile, each token tile sums the chunk in a fresh
// accumulator (MT independent MMA chains) and the scale multiplies that into acc in float. acc [RB][MT][4].
template <typename T, int MT, int RB>
__device__ __forceinline__ void a16_tiles_int4(float (&acc)[RB][MT][4], const uint4 (&q)[RB][2], const float (&s)[RB][2],
                                               const float (&z)[RB][2], const T* const (&x_row)[MT], int64_t k0) {
  using P = Pair<T>;
  uint32_t xp[MT][16];
#pragma unroll
  for (int j = 0; j < MT; j++) load_x_int4(xp[j], x_row[j], k0);
  auto pair = [](uint32_t word, int i, typename P::T2 zb) {  // pair i of a word: k (i, i + 4) as u − z
    uint32_t v = magic_pair<T>(word >> (4 * i));
    typename P::T2 h = __hsub2(*reinterpret_cast<typename P::T2*>(&v), zb);
    return *reinterpret_cast<uint32_t*>(&h);
  };
#pragma unroll
  for (int b = 0; b < RB; b++) {
    const typename P::T2 z_lo = P::both(P::kBase + z[b][0]), z_hi = P::both(P::kBase + z[b][1]);
    const uint32_t lo[4] = {q[b][0].x, q[b][0].y, q[b][0].z, q[b][0].w}, hi[4] = {q[b][1].x, q[b][1].y, q[b][1].z, q[b][1].w};
    float d[MT][4] = {};
#pragma unroll
    for (int mm = 0; mm < 8; mm++) {  // k16 step mm: pairs 2mm and 2mm + 1, of word mm / 2
      const int wd = mm / 2, i = 2 * (mm % 2);
      const uint32_t a0 = pair(lo[wd], i, z_lo), a1 = pair(hi[wd], i, z_hi), a2 = pair(lo[wd], i + 1, z_lo), a3 = pair(hi[wd], i + 1, z_hi);
#pragma unroll
      for (int j = 0; j < MT; j++) mma_f16_16x8x16<std::is_same_v<T, __nv_bfloat16>>(d[j], a0, a1, a2, a3, xp[j][2 * mm], xp[j][2 * mm + 1]);
    }
#pragma unroll
    for (int j = 0; j < MT; j++) add_scaled(acc[b][j], s[b][0], s[b][1], d[j]);
  }
}

}  // namespace groupwise_a16
