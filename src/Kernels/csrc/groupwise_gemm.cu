#include <type_traits>
#include "dtype_convert.cuh"
#include "group_index.cuh"
#include "groupwise_a16.cuh"
#include "groupwise_gemm.h"
#include "mma.cuh"
#include "pdl.cuh"

// Design (A16): groupwise_a16.cuh (the lane layout, the dequantization, the MMAs). The general kernel here takes any
// group size (a multiple of 32) and K; groupwise_a16_aligned.cu has a leaner one for INT4 with power-of-two groups of
// whole 64-byte chunks and K a multiple of 256 (the common case, g128).
//
// Design (A8): int8 MMAs (m16n8k32) on the codes as int8 (int4: u ∈ [0, 15]; int8: u − 128 via xor 0x80), one MMA
// per 32 consecutive k so each MMA lies in one group; a second MMA with an all-ones A gives the tokens' Σx over the
// same k, so Σ x·(u − z) = Σ x·a + (o − z)·Σx exactly in int32, then s · that goes into the float accumulator.
namespace {

using groupwise_a16::kWarps;
constexpr int kUnroll = 4;     // 32-k steps (A8) per warp in flight before their MMAs (twice that for one token tile)
constexpr int kUnrollA16 = 2;  // 64-byte chunks per warp and buffer (A16): 8 16-byte loads in flight per lane

// y [M, N] (one token tile of ≤ 8·MT rows per grid.y), x [M, K], w packed bytes [N, K·Bits/8]. ScaleAfter (G a
// multiple of a chunk's 128 int4 / 64 int8 codes): the fragments hold the exact integers u − z, each chunk's MMAs
// go into a fresh accumulator, and the row's scale multiplies that in float; otherwise the scale is applied to the
// fragments.
template <typename T, int Bits, int MT, bool ScaleAfter>
__global__ void __launch_bounds__(kWarps * 32, MT <= 2 ? 2 : 1) groupwise_a16_kernel(T* __restrict__ y, const T* __restrict__ x, const uint8_t* __restrict__ w,
                                                                    const float* __restrict__ scales, const uint8_t* __restrict__ zeros,
                                                                    const T* __restrict__ bias, int M, int N, int K, int group,
                                                                    int64_t x_stride, int64_t y_stride) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4, warp = threadIdx.x / 32;
  groupwise_a16::enter_token_tile(x, y, M, x_stride, y_stride);
  const int n0 = blockIdx.x * 16;
  const int64_t kb = (int64_t)K * Bits / 8;
  const int groups = K / group;
  const int row_lo = min(n0 + g, N - 1), row_hi = min(n0 + g + 8, N - 1);  // rows past N: computed, never stored
  const uint8_t* w_lo = w + (int64_t)row_lo * kb + t * 16;
  const uint8_t* w_hi = w + (int64_t)row_hi * kb + t * 16;
  const T* x_row[MT];
  bool x_ok[MT];
#pragma unroll
  for (int j = 0; j < MT; j++) {
    const int m = j * 8 + g;
    x_ok[j] = m < M;
    x_row[j] = x + (int64_t)(x_ok[j] ? m : 0) * x_stride;
  }
  float acc[MT][4];
#pragma unroll
  for (int j = 0; j < MT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;

  const int64_t chunks = (kb + 63) / 64;
  constexpr int kStep = kWarps * kUnrollA16;
  struct Buf {
    uint4 q[kUnrollA16][2];
    float s[kUnrollA16][2], z[kUnrollA16][2];
  };
  Buf buf[2];
  const float zsym = (float)(1 << (Bits - 1));
  const int gshift = group_shift(group);
  auto load = [&](Buf& b, int64_t c0) {
#pragma unroll
    for (int u = 0; u < kUnrollA16; u++) {
      const int64_t off = (c0 + u * kWarps) * 64;
      const bool ok = off + t * 16 < kb;  // kb is a multiple of 16: a piece is wholly in or out
      const int64_t grp = ok ? group_of((int)((off + t * 16) * 8 / Bits), group, gshift) : 0;
      b.q[u][0] = ok ? ld_stream(w_lo + off) : make_uint4(0, 0, 0, 0);
      b.q[u][1] = ok ? ld_stream(w_hi + off) : make_uint4(0, 0, 0, 0);
      b.s[u][0] = ok ? __ldg(scales + (int64_t)row_lo * groups + grp) : 0.f;
      b.s[u][1] = ok ? __ldg(scales + (int64_t)row_hi * groups + grp) : 0.f;
      b.z[u][0] = zeros && ok ? (float)__ldg(zeros + (int64_t)row_lo * groups + grp) : zsym;
      b.z[u][1] = zeros && ok ? (float)__ldg(zeros + (int64_t)row_hi * groups + grp) : zsym;
    }
  };
  auto compute = [&](const Buf& b, int64_t c0) {
#pragma unroll
    for (int u = 0; u < kUnrollA16; u++) {
      const int64_t off = (c0 + u * kWarps) * 64;
      groupwise_a16::a16_piece<T, Bits, MT, ScaleAfter>(acc, b.q[u][0], b.q[u][1], b.s[u][0], b.s[u][1], b.z[u][0], b.z[u][1], x_row,
                                                        x_ok, (off + t * 16) * 8 / Bits, off + t * 16 < kb);
    }
  };
  // Double-buffered: the next kUnrollA16 chunks' loads are in flight while the current ones feed the MMAs.
  // Launched programmatically: the weights need nothing from the kernel before, x does.
  load(buf[0], warp);
  pdl_wait();
  pdl_launch_dependents();
  for (int64_t c0 = warp; c0 < chunks; c0 += 2 * kStep) {
    load(buf[1], c0 + kStep);
    compute(buf[0], c0);
    load(buf[0], c0 + 2 * kStep);
    compute(buf[1], c0 + kStep);
  }

  reduce_partials_store<kWarps, 1, MT>(acc, warp, 0, y, bias, M, N, n0, y_stride, [](float sum, int, int) { return sum; });
}

// A8: xq [M, K] int8, x_scale [M]; one 32-k step per MMA. Lane (g, t) holds word(s) t of the step's 16 (int4) or 32
// (int8) bytes per row and x bytes [8t, 8t+8) of token g.
template <typename OutT, int Bits, int MT>
__global__ void __launch_bounds__(kWarps * 32) groupwise_a8_kernel(OutT* __restrict__ y, const int8_t* __restrict__ x, const float* __restrict__ x_scale,
                                                                   const uint8_t* __restrict__ w, const float* __restrict__ scales,
                                                                   const uint8_t* __restrict__ zeros, const OutT* __restrict__ bias, int M, int N,
                                                                   int K, int group, int64_t x_stride, int64_t y_stride) {
  constexpr int kStepBytes = 32 * Bits / 8;  // bytes of one row per 32-k step (16 or 32)
  constexpr int kLaneBytes = kStepBytes / 4;  // 4 or 8
  constexpr float kOffset = Bits == 8 ? 128.f : 0.f;  // a = u − kOffset is what the MMA sees
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4, warp = threadIdx.x / 32;
  const int m0 = blockIdx.y * kGroupwiseTileRows;
  x += (int64_t)m0 * x_stride;
  x_scale += m0;
  y += (int64_t)m0 * y_stride;
  M = min(M - m0, kGroupwiseTileRows);
  const int n0 = blockIdx.x * 16;
  const int64_t kb = (int64_t)K * Bits / 8;
  const int groups = K / group, steps = K / 32;
  const int row_lo = min(n0 + g, N - 1), row_hi = min(n0 + g + 8, N - 1);
  const uint8_t* w_lo = w + (int64_t)row_lo * kb + t * kLaneBytes;
  const uint8_t* w_hi = w + (int64_t)row_hi * kb + t * kLaneBytes;
  const int8_t* x_row[MT];
  bool x_ok[MT];
#pragma unroll
  for (int j = 0; j < MT; j++) {
    const int m = j * 8 + g;
    x_ok[j] = m < M;
    x_row[j] = x + (int64_t)(x_ok[j] ? m : 0) * x_stride + t * 8;
  }
  float acc[MT][4];
#pragma unroll
  for (int j = 0; j < MT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  const float zsym = (float)(1 << (Bits - 1));
  const uint32_t ones = 0x01010101u;
  constexpr int kU = MT == 1 ? 2 * kUnroll : kUnroll;  // decode: more small loads in flight per lane
  const int gshift = group_shift(group);

  for (int s0 = warp; s0 < steps; s0 += kWarps * kU) {
    uint2 q[kU][2];
    float sc[kU][2], zp[kU][2];
#pragma unroll
    for (int u = 0; u < kU; u++) {
      const int s = s0 + u * kWarps;
      const bool ok = s < steps;
      const int grp = ok ? group_of(s * 32, group, gshift) : 0;
      const int64_t off = (int64_t)s * kStepBytes;
      if constexpr (Bits == 4) {
        q[u][0] = make_uint2(ok ? __ldg(reinterpret_cast<const uint32_t*>(w_lo + off)) : 0u, 0u);
        q[u][1] = make_uint2(ok ? __ldg(reinterpret_cast<const uint32_t*>(w_hi + off)) : 0u, 0u);
      } else {
        q[u][0] = ok ? __ldg(reinterpret_cast<const uint2*>(w_lo + off)) : make_uint2(0x80808080u, 0x80808080u);
        q[u][1] = ok ? __ldg(reinterpret_cast<const uint2*>(w_hi + off)) : make_uint2(0x80808080u, 0x80808080u);
      }
      sc[u][0] = ok ? __ldg(scales + (int64_t)row_lo * groups + grp) : 0.f;
      sc[u][1] = ok ? __ldg(scales + (int64_t)row_hi * groups + grp) : 0.f;
      zp[u][0] = zeros && ok ? (float)__ldg(zeros + (int64_t)row_lo * groups + grp) : zsym;
      zp[u][1] = zeros && ok ? (float)__ldg(zeros + (int64_t)row_hi * groups + grp) : zsym;
    }
#pragma unroll
    for (int u = 0; u < kU; u++) {
      const int s = s0 + u * kWarps;
      const bool ok = s < steps;
      uint32_t a0, a1, a2, a3;
      if constexpr (Bits == 4) {
        a0 = q[u][0].x & 0x0F0F0F0Fu, a2 = (q[u][0].x >> 4) & 0x0F0F0F0Fu;  // codes (0,2,4,6) and (1,3,5,7)
        a1 = q[u][1].x & 0x0F0F0F0Fu, a3 = (q[u][1].x >> 4) & 0x0F0F0F0Fu;
      } else {
        a0 = q[u][0].x ^ 0x80808080u, a2 = q[u][0].y ^ 0x80808080u;  // u − 128 as int8
        a1 = q[u][1].x ^ 0x80808080u, a3 = q[u][1].y ^ 0x80808080u;
      }
      const float c_lo = kOffset - zp[u][0], c_hi = kOffset - zp[u][1];
#pragma unroll
      for (int j = 0; j < MT; j++) {
        const uint2 xv = ok && x_ok[j] ? __ldg(reinterpret_cast<const uint2*>(x_row[j] + (int64_t)s * 32)) : make_uint2(0u, 0u);
        uint32_t b0, b1;
        if constexpr (Bits == 4) {
          b0 = __byte_perm(xv.x, xv.y, 0x6420), b1 = __byte_perm(xv.x, xv.y, 0x7531);
        } else {
          b0 = xv.x, b1 = xv.y;
        }
        int d[4] = {0, 0, 0, 0}, e[4] = {0, 0, 0, 0};
        mma_s8_16x8x32(d, a0, a1, a2, a3, b0, b1);
        mma_s8_16x8x32(e, ones, ones, ones, ones, b0, b1);  // Σx of tokens 2t, 2t+1 over the step
        acc[j][0] += sc[u][0] * ((float)d[0] + c_lo * (float)e[0]);
        acc[j][1] += sc[u][0] * ((float)d[1] + c_lo * (float)e[1]);
        acc[j][2] += sc[u][1] * ((float)d[2] + c_hi * (float)e[2]);
        acc[j][3] += sc[u][1] * ((float)d[3] + c_hi * (float)e[3]);
      }
    }
  }

  reduce_partials_store<kWarps, 1, MT>(acc, warp, 0, y, bias, M, N, n0, y_stride, [&](float sum, int m, int) { return sum * x_scale[m]; });
}

// The prefill path's W [N, K] = (u − z)·s in float, rounded once to T. An octet is 8 consecutive codes of a row (4
// packed bytes at int4, 8 at int8; K is a multiple of 32, so an octet never crosses a row or a group). A warp takes
// kOctetsPerLane·32 consecutive octets, lane l octets l, l + 32, ...: each load instruction reads 128 (int4) or 256
// (int8) contiguous bytes and each 16-byte store of 8 bf16/fp16 outputs writes 512 contiguous bytes, and a lane's
// kOctetsPerLane loads are in flight together. u − z is exact in float: the code goes into the mantissa of 2^23
// (one lop3 or byte_perm) and 2^23 + z is subtracted.
constexpr int kOctetsPerLane = 4;

template <typename T>
__device__ __forceinline__ void store_octet(T* out, const float (&v)[8]) {
  if constexpr (sizeof(T) == 4) {
    reinterpret_cast<float4*>(out)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(out)[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    *reinterpret_cast<uint4*>(out) = make_uint4(Pair<T>::pack(v[0], v[1]), Pair<T>::pack(v[2], v[3]), Pair<T>::pack(v[4], v[5]),
                                                Pair<T>::pack(v[6], v[7]));
  }
}

template <typename T, int Bits>
__global__ void groupwise_dequantize_kernel(T* __restrict__ out, const uint8_t* __restrict__ w, const float* __restrict__ scales,
                                            const uint8_t* __restrict__ zeros, int K, int group, int64_t octets) {
  using Word = std::conditional_t<Bits == 4, uint32_t, uint2>;  // one octet's packed codes
  const int64_t first = ((int64_t)blockIdx.x * blockDim.x + (threadIdx.x & ~31)) * kOctetsPerLane + (threadIdx.x & 31);
  const int octets_per_row = K / 8, groups = K / group;
  Word q[kOctetsPerLane];
#pragma unroll
  for (int j = 0; j < kOctetsPerLane; j++) {
    const int64_t o = first + 32 * j;
    if (o < octets) q[j] = reinterpret_cast<const Word*>(w)[o];
  }
#pragma unroll
  for (int j = 0; j < kOctetsPerLane; j++) {
    const int64_t o = first + 32 * j;
    if (o >= octets) break;
    const int64_t row = o / octets_per_row;
    const int k0 = (int)(o - row * octets_per_row) * 8;
    const int64_t grp = row * groups + k0 / group;
    const float s = scales[grp], zf = 8388608.f + (zeros ? (float)zeros[grp] : (float)(1 << (Bits - 1)));
    float v[8];
#pragma unroll
    for (int c = 0; c < 8; c++) {
      uint32_t bits;
      if constexpr (Bits == 4) bits = lop3<0xEA>(q[j] >> (4 * c), 0xFu, 0x4B000000u);  // 2^23 + code
      else bits = __byte_perm(c < 4 ? q[j].x : q[j].y, 0x4B000000u, 0x7540 | (c % 4));
      v[c] = (__int_as_float((int)bits) - zf) * s;
    }
    store_octet(out + o * 8, v);
  }
}

bool shape_ok(int m, int n, int k, int bits, int group) {
  return m >= 1 && n >= 1 && k >= 32 && (bits == 4 || bits == 8) && group >= 32 && group % 32 == 0 && k % group == 0;
}

template <typename T, int Bits, bool ScaleAfter>
cudaError_t launch_a16_tiles(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n,
                             int k, int group, int64_t xs, int64_t ys, cudaStream_t st) {
  const dim3 block(kWarps * 32), grid((n + 15) / 16, (m + kGroupwiseA16TileRows - 1) / kGroupwiseA16TileRows);
  if (m <= 8) return launch_pdl(groupwise_a16_kernel<T, Bits, 1, ScaleAfter>, grid, block, 0, st, y, x, w, s, z, bias, m, n, k, group, xs, ys);
  if (m <= 16) return launch_pdl(groupwise_a16_kernel<T, Bits, 2, ScaleAfter>, grid, block, 0, st, y, x, w, s, z, bias, m, n, k, group, xs, ys);
  return launch_pdl(groupwise_a16_kernel<T, Bits, 4, ScaleAfter>, grid, block, 0, st, y, x, w, s, z, bias, m, n, k, group, xs, ys);
}

template <typename T, int Bits>
cudaError_t launch_a16(T* y, const T* x, const int32_t* packed, const float* s, const uint8_t* z, const T* bias, int m, int n,
                       int k, int group, int64_t xs, int64_t ys, cudaStream_t st) {
  if (groupwise_a16_aligned_supports(Bits, group, k))
    return launch_groupwise_gemm_a16_aligned(std::is_same_v<T, __half> ? 1 : 2, y, x, packed, s, z, bias, m, n, k, group, xs, ys, st);
  const auto w = reinterpret_cast<const uint8_t*>(packed);
  // A 64-byte chunk of a row holds 512 / Bits codes; when groups are whole chunks the scale can wait for the MMA.
  if (group % (512 / Bits) == 0) return launch_a16_tiles<T, Bits, true>(y, x, w, s, z, bias, m, n, k, group, xs, ys, st);
  return launch_a16_tiles<T, Bits, false>(y, x, w, s, z, bias, m, n, k, group, xs, ys, st);
}

template <typename OutT, int Bits>
cudaError_t launch_a8(OutT* y, const int8_t* x, const float* xsc, const int32_t* packed, const float* s, const uint8_t* z,
                      const OutT* bias, int m, int n, int k, int group, int64_t xs, int64_t ys, cudaStream_t st) {
  const auto w = reinterpret_cast<const uint8_t*>(packed);
  const dim3 block(kWarps * 32), grid((n + 15) / 16, (m + kGroupwiseTileRows - 1) / kGroupwiseTileRows);
  if (m <= 8) groupwise_a8_kernel<OutT, Bits, 1><<<grid, block, 0, st>>>(y, x, xsc, w, s, z, bias, m, n, k, group, xs, ys);
  else if (m <= 16) groupwise_a8_kernel<OutT, Bits, 2><<<grid, block, 0, st>>>(y, x, xsc, w, s, z, bias, m, n, k, group, xs, ys);
  else if (m <= 32) groupwise_a8_kernel<OutT, Bits, 4><<<grid, block, 0, st>>>(y, x, xsc, w, s, z, bias, m, n, k, group, xs, ys);
  else groupwise_a8_kernel<OutT, Bits, 8><<<grid, block, 0, st>>>(y, x, xsc, w, s, z, bias, m, n, k, group, xs, ys);
  return cudaGetLastError();
}

template <typename OutT>
cudaError_t launch_a8_bits(int bits, void* y, const int8_t* x, const float* xsc, const int32_t* p, const float* s, const uint8_t* z,
                           const void* bias, int m, int n, int k, int group, int64_t xs, int64_t ys, cudaStream_t st) {
  return bits == 4 ? launch_a8<OutT, 4>((OutT*)y, x, xsc, p, s, z, (const OutT*)bias, m, n, k, group, xs, ys, st)
                   : launch_a8<OutT, 8>((OutT*)y, x, xsc, p, s, z, (const OutT*)bias, m, n, k, group, xs, ys, st);
}

template <typename T>
cudaError_t launch_dequant(void* out, const int32_t* p, const float* s, const uint8_t* z, int n, int k, int bits, int group, cudaStream_t st) {
  const auto w = reinterpret_cast<const uint8_t*>(p);
  const int64_t octets = (int64_t)n * k / 8;
  const int threads = 256;
  const unsigned blocks = (unsigned)((octets + threads * kOctetsPerLane - 1) / (threads * kOctetsPerLane));
  if (bits == 4) groupwise_dequantize_kernel<T, 4><<<blocks, threads, 0, st>>>((T*)out, w, s, z, k, group, octets);
  else groupwise_dequantize_kernel<T, 8><<<blocks, threads, 0, st>>>((T*)out, w, s, z, k, group, octets);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_groupwise_gemm_a16(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                      const uint8_t* zeros, const void* bias, int m, int n, int k, int bits, int group,
                                      int64_t x_stride, int64_t y_stride, cudaStream_t stream) {
  if (!shape_ok(m, n, k, bits, group) || x_stride % 8 != 0) return cudaErrorInvalidValue;
  switch (dtype * 16 + bits) {
    case 1 * 16 + 4: return launch_a16<__half, 4>((__half*)y, (const __half*)x, packed, scales, zeros, (const __half*)bias, m, n, k, group, x_stride, y_stride, stream);
    case 1 * 16 + 8: return launch_a16<__half, 8>((__half*)y, (const __half*)x, packed, scales, zeros, (const __half*)bias, m, n, k, group, x_stride, y_stride, stream);
    case 2 * 16 + 4: return launch_a16<__nv_bfloat16, 4>((__nv_bfloat16*)y, (const __nv_bfloat16*)x, packed, scales, zeros, (const __nv_bfloat16*)bias, m, n, k, group, x_stride, y_stride, stream);
    case 2 * 16 + 8: return launch_a16<__nv_bfloat16, 8>((__nv_bfloat16*)y, (const __nv_bfloat16*)x, packed, scales, zeros, (const __nv_bfloat16*)bias, m, n, k, group, x_stride, y_stride, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_groupwise_gemm_a8(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int32_t* packed,
                                     const float* scales, const uint8_t* zeros, const void* bias, int m, int n, int k,
                                     int bits, int group, int64_t x_stride, int64_t y_stride, cudaStream_t stream) {
  if (!shape_ok(m, n, k, bits, group) || x_stride % 8 != 0) return cudaErrorInvalidValue;
  switch (out_dtype) {
    case 0: return launch_a8_bits<float>(bits, y, xq, x_scale, packed, scales, zeros, bias, m, n, k, group, x_stride, y_stride, stream);
    case 1: return launch_a8_bits<__half>(bits, y, xq, x_scale, packed, scales, zeros, bias, m, n, k, group, x_stride, y_stride, stream);
    case 2: return launch_a8_bits<__nv_bfloat16>(bits, y, xq, x_scale, packed, scales, zeros, bias, m, n, k, group, x_stride, y_stride, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_groupwise_dequantize(int dtype, void* w, const int32_t* packed, const float* scales,
                                        const uint8_t* zeros, int n, int k, int bits, int group, cudaStream_t stream) {
  if (!shape_ok(1, n, k, bits, group)) return cudaErrorInvalidValue;
  switch (dtype) {
    case 0: return launch_dequant<float>(w, packed, scales, zeros, n, k, bits, group, stream);
    case 1: return launch_dequant<__half>(w, packed, scales, zeros, n, k, bits, group, stream);
    case 2: return launch_dequant<__nv_bfloat16>(w, packed, scales, zeros, n, k, bits, group, stream);
    default: return cudaErrorInvalidValue;
  }
}
