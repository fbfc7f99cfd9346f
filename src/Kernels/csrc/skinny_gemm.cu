#include <type_traits>
#include "dtype_convert.cuh"
#include "mma.cuh"
#include "mma_partials.cuh"
#include "pdl.cuh"
#include "skinny_gemm.h"

// Design: the weight plays the MMA's "A" (16 output channels per warp) and the few tokens its "B" (8 per tile),
// so one m16n8 MMA covers 16 channels × 8 tokens. Each lane reads 16 contiguous bytes of a weight row per 64-byte
// chunk and the same 16 bytes of each token row; the MMA's fragment positions only need A and B to agree on which
// byte is which k, and that holds because lane (g, t) supplies the same byte offsets for both. So no shuffles or
// shared memory sit between the global loads and the tensor cores. The 8 warps of a block form RG row groups of 16
// channels; the warps of a group split K (interleaved 64-byte chunks, so they stream contiguous kilobytes of each
// row), then reduce through shared memory. Every block reads all of x, so with more tokens a block covers more rows
// (RG > 1) to keep x's L2 traffic below the weights'.
namespace {

constexpr int kWarps = 8;
constexpr int kUnroll = 4;  // 64-byte chunks per warp in flight before the MMAs that use them

template <bool Int8, bool Bf16>
struct Mma {
  using Acc = std::conditional_t<Int8, int, float>;
  __device__ static void run(Acc (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
    if constexpr (Int8) mma_s8_16x8x32(d, a0, a1, a2, a3, b0, b1);
    else mma_f16_16x8x16<Bf16>(d, a0, a1, a2, a3, b0, b1);
  }
};

// y [M, N] of OutT; x rows of x_stride_bytes; w [N, kb bytes]; kb a multiple of 16. Grid: ceil(N/(16·RG)) blocks.
template <typename OutT, int MT, int RG, bool Int8, bool Bf16>
__global__ void __launch_bounds__(kWarps * 32) skinny_gemm_kernel(OutT* __restrict__ y, const uint8_t* __restrict__ x,
                                                                  const uint8_t* __restrict__ w, const float* __restrict__ x_scale,
                                                                  const float* __restrict__ w_scale, const OutT* __restrict__ bias,
                                                                  int M, int N, int64_t kb, int64_t x_stride_bytes, int64_t y_stride) {
  using M_ = Mma<Int8, Bf16>;
  using Acc = typename M_::Acc;
  constexpr int kSplit = kWarps / RG;  // warps sharing one row group's K
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int group = threadIdx.x / 32 / kSplit, warp = threadIdx.x / 32 % kSplit;
  const int n0 = (blockIdx.x * RG + group) * 16;
  // Rows past N are clamped to the last row: computed, never stored.
  const uint8_t* w_lo = w + (int64_t)min(n0 + g, N - 1) * kb + t * 16;
  const uint8_t* w_hi = w + (int64_t)min(n0 + g + 8, N - 1) * kb + t * 16;
  const uint8_t* x_row[MT];
  bool x_ok[MT];
#pragma unroll
  for (int j = 0; j < MT; j++) {
    const int m = j * 8 + g;
    x_ok[j] = m < M;
    x_row[j] = x + (int64_t)(x_ok[j] ? m : 0) * x_stride_bytes + t * 16;
  }
  Acc acc[MT][4];
#pragma unroll
  for (int j = 0; j < MT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0;

  const int64_t chunks = (kb + 63) / 64;
  constexpr int kStep = kSplit * kUnroll;  // chunks one pass of a row group covers
  // Double-buffered: the loads of the next kUnroll chunks are in flight while the current ones feed the MMAs.
  uint4 buf[2][kUnroll][2];
  auto load = [&](uint4 (&a)[kUnroll][2], int64_t c0) {
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int64_t off = (c0 + u * kSplit) * 64;
      const bool ok = off + t * 16 < kb;  // kb is a multiple of 16, so a 16-byte piece is wholly in or out
      a[u][0] = ok ? ld_stream(w_lo + off) : make_uint4(0, 0, 0, 0);
      a[u][1] = ok ? ld_stream(w_hi + off) : make_uint4(0, 0, 0, 0);
    }
  };
  auto compute = [&](const uint4 (&a)[kUnroll][2], int64_t c0) {
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int64_t off = (c0 + u * kSplit) * 64;
      const bool ok = off + t * 16 < kb;
      uint4 b[MT];
#pragma unroll
      for (int j = 0; j < MT; j++) b[j] = ok && x_ok[j] ? __ldg(reinterpret_cast<const uint4*>(x_row[j] + off)) : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int j = 0; j < MT; j++) {
        M_::run(acc[j], a[u][0].x, a[u][1].x, a[u][0].y, a[u][1].y, b[j].x, b[j].y);
        M_::run(acc[j], a[u][0].z, a[u][1].z, a[u][0].w, a[u][1].w, b[j].z, b[j].w);
      }
    }
  };
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

  reduce_partials_store<kSplit, RG, MT>(acc, warp, group, y, bias, M, N, blockIdx.x * RG * 16, y_stride, [&](Acc sum, int m, int n) {
    return Int8 ? (float)sum * x_scale[m] * w_scale[n] : (float)sum;
  });
}

template <typename OutT, bool Int8, bool Bf16>
cudaError_t launch(OutT* y, const void* x, const void* w, const float* xs, const float* ws, const OutT* bias, int m, int n,
                   int64_t kb, int64_t x_stride_bytes, int64_t y_stride, cudaStream_t st) {
  if (m < 1 || m > kSkinnyMaxRows || n < 1 || kb % 16 != 0) return cudaErrorInvalidValue;
  const dim3 block(kWarps * 32);
  auto xp = static_cast<const uint8_t*>(x);
  auto wp = static_cast<const uint8_t*>(w);
#define SKINNY_CASE(MT, RG)                                                                                       \
  return launch_pdl(skinny_gemm_kernel<OutT, MT, RG, Int8, Bf16>, dim3((n + 16 * RG - 1) / (16 * RG)), block, 0, st, y, xp, wp, \
                    xs, ws, bias, m, n, kb, x_stride_bytes, y_stride)
  if (m <= 8) SKINNY_CASE(1, 1);
  if (m <= 16) SKINNY_CASE(2, 1);
  if (m <= 32) SKINNY_CASE(4, 2);
  SKINNY_CASE(8, 2);
#undef SKINNY_CASE
}

}  // namespace

cudaError_t launch_skinny_gemm_s8(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int8_t* wq,
                                  const float* w_scale, const void* bias, int m, int n, int k, int64_t x_stride,
                                  int64_t y_stride, cudaStream_t stream) {
  switch (out_dtype) {
    case 0: return launch<float, true, false>((float*)y, xq, wq, x_scale, w_scale, (const float*)bias, m, n, k, x_stride, y_stride, stream);
    case 1: return launch<__half, true, false>((__half*)y, xq, wq, x_scale, w_scale, (const __half*)bias, m, n, k, x_stride, y_stride, stream);
    case 2: return launch<__nv_bfloat16, true, false>((__nv_bfloat16*)y, xq, wq, x_scale, w_scale, (const __nv_bfloat16*)bias, m, n, k, x_stride, y_stride, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_skinny_gemm_f16(int dtype, void* y, const void* x, const void* w, const void* bias, int m, int n, int k,
                                   int64_t x_stride, int64_t y_stride, cudaStream_t stream) {
  switch (dtype) {
    case 1: return launch<__half, false, false>((__half*)y, x, w, nullptr, nullptr, (const __half*)bias, m, n, 2LL * k, 2 * x_stride, y_stride, stream);
    case 2: return launch<__nv_bfloat16, false, true>((__nv_bfloat16*)y, x, w, nullptr, nullptr, (const __nv_bfloat16*)bias, m, n, 2LL * k, 2 * x_stride, y_stride, stream);
    default: return cudaErrorInvalidValue;
  }
}
