#include "groupwise_a16.cuh"
#include "groupwise_gemm.h"
#include "pdl.cuh"

// The A16 streaming kernel for the common layout: INT4 codes, G = 128·2^s (a group is whole 64-byte chunks, so every
// piece has one scale per row and the scale waits for the MMA) and K a multiple of 256. It computes what the general
// kernel in groupwise_gemm.cu computes, with the per-piece bookkeeping taken out of the loop: no bounds check or zero
// fill per load (a warp past the end reloads the last two chunks and skips them as a whole), token rows past M read row
// M − 1 instead of being predicated (their sums land in columns that are never stored), the group index is a shift of
// the chunk index, and a warp takes two consecutive chunks per buffer (one address per row). The loop is issue-bound at
// decode sizes: per 32 bytes of weights per lane (two 16-byte pieces, rows g and g+8) the general kernel's one-tile
// instance issues 274 instructions and this one 170 (SASS for sm_90 from nvcc 11.8, `cuobjdump -sass`, bf16 with zero
// points), of which 88 dequantize (shift, lop3, subtract) and 16 permute x.
namespace {

using groupwise_a16::kWarps;
constexpr int kUnroll = 2;  // consecutive 64-byte chunks per warp and buffer: 4 weight loads of 16 bytes per lane

// Lane (g, t)'s operands for the 16 channels from n0: its two weight rows (g and g + 8, clamped to N − 1: rows past N
// are computed, never stored) at byte 16·t of each 64-byte chunk, their scales and zero points per group, and its
// token rows (past M they read row M − 1, whose sums land in columns never stored) at the same 32 codes of a chunk.
template <typename T, int MT, bool Zeros>
struct LaneRows {
  const uint8_t *w_lo, *w_hi;
  const float *s_lo, *s_hi;
  const uint8_t *z_lo, *z_hi;
  const T* x_row[MT];
  bool x_ok[MT];
  __device__ LaneRows(const T* x, const uint8_t* w, const float* scales, const uint8_t* zeros, int M, int N, int n0, int chunks, int groups,
                      int64_t x_stride) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int row_lo = min(n0 + g, N - 1), row_hi = min(n0 + g + 8, N - 1);
    w_lo = w + (int64_t)row_lo * chunks * 64 + t * 16;
    w_hi = w + (int64_t)row_hi * chunks * 64 + t * 16;
    s_lo = scales + (int64_t)row_lo * groups;
    s_hi = scales + (int64_t)row_hi * groups;
    z_lo = Zeros ? zeros + (int64_t)row_lo * groups : nullptr;
    z_hi = Zeros ? zeros + (int64_t)row_hi * groups : nullptr;
#pragma unroll
    for (int j = 0; j < MT; j++) {
      x_row[j] = x + (int64_t)min(j * 8 + g, M - 1) * x_stride + t * 32;
      x_ok[j] = true;
    }
  }
};

// RG row groups of 16 channels per block, each on kWarps / RG warps that split K: more row groups per block means
// each x chunk is read from L2 once for 16·RG channels instead of 16 (INFERENCE_GROUPWISE_A16_ROW_GROUPS, default 1).
template <typename T, int MT, bool Zeros, int RG>
__global__ void __launch_bounds__(kWarps * 32, MT <= 2 ? 2 : 1)
    groupwise_a16_aligned_kernel(T* __restrict__ y, const T* __restrict__ x, const uint8_t* __restrict__ w, const float* __restrict__ scales,
                                 const uint8_t* __restrict__ zeros, const T* __restrict__ bias, int M, int N, int K, int chunk_shift,
                                 int64_t x_stride, int64_t y_stride) {
  const int warp = threadIdx.x / 32;
  groupwise_a16::enter_token_tile(x, y, M, x_stride, y_stride);
  constexpr int kSplits = kWarps / RG;  // warps sharing a row group's K
  const int split = RG == 1 ? warp : warp % kSplits, rg = RG == 1 ? 0 : warp / kSplits;
  const int nb = blockIdx.x * 16 * RG;
  const int chunks = K / 128, groups = chunks >> chunk_shift;  // per row: 64-byte chunks of 128 codes (even), and groups
  const LaneRows<T, MT, Zeros> r(x, w, scales, zeros, M, N, nb + 16 * rg, chunks, groups, x_stride);
  float acc[MT][4];
#pragma unroll
  for (int j = 0; j < MT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;

  constexpr int kStep = kSplits * kUnroll;
  struct Buf {
    uint4 q[kUnroll][2];
    float s[kUnroll][2], z[kUnroll][2];
  };
  Buf buf[2];
  // A warp's buffer is kUnroll consecutive chunks from c0 (even, since chunks is): one address per row, the rest
  // immediate offsets. Past the end it reloads the last two chunks (L2 hits, kept in range) and compute skips them:
  // a warp-uniform branch around the loads keeps the stale buffer live and costs more instructions and registers.
  auto load = [&](Buf& b, int c0) {
    c0 = min(c0, chunks - kUnroll);
    const uint8_t* p_lo = r.w_lo + c0 * 64;
    const uint8_t* p_hi = r.w_hi + c0 * 64;
    const int grp = c0 >> chunk_shift;
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int du = ((c0 + u) >> chunk_shift) - grp;  // 0 or u: the group of chunk c0 + u, relative
      b.q[u][0] = ld_stream(p_lo + u * 64);
      b.q[u][1] = ld_stream(p_hi + u * 64);
      b.s[u][0] = __ldg(r.s_lo + grp + du);
      b.s[u][1] = __ldg(r.s_hi + grp + du);
      b.z[u][0] = Zeros ? (float)__ldg(r.z_lo + grp + du) : 8.f;
      b.z[u][1] = Zeros ? (float)__ldg(r.z_hi + grp + du) : 8.f;
    }
  };
  auto compute = [&](const Buf& b, int c0) {
    if (c0 >= chunks) return;  // warp-uniform
#pragma unroll
    for (int u = 0; u < kUnroll; u++)
      groupwise_a16::a16_piece<T, 4, MT, true>(acc, b.q[u][0], b.q[u][1], b.s[u][0], b.s[u][1], b.z[u][0], b.z[u][1], r.x_row, r.x_ok,
                                               (c0 + u) * 128, true);
  };
  // Double-buffered like the general kernel; launched programmatically: the weights need nothing from the kernel
  // before, x does.
  load(buf[0], split * kUnroll);
  pdl_wait();
  pdl_launch_dependents();
  for (int c0 = split * kUnroll; c0 < chunks; c0 += 2 * kStep) {
    load(buf[1], c0 + kStep);
    compute(buf[0], c0);
    load(buf[0], c0 + 2 * kStep);
    compute(buf[1], c0 + kStep);
  }
  reduce_partials_store<kSplits, RG, MT>(acc, split, rg, y, bias, M, N, nb, y_stride, [](float sum, int, int) { return sum; });
}

// The same computation with the weights staged through shared memory (INFERENCE_GROUPWISE_A16_STAGES=4, for
// comparisons): each lane copies its pieces of a buffer with cp.async (L2 only) into a ring of kStages buffers and
// reads them back just before its MMAs, so kStages − 1 buffers per lane are in flight while one is computed, against
// one in the register form above (whose loads, 64 bytes per lane, are what bounds it at decode sizes: 32 KB in flight
// per SM at two blocks). Scales and zero points stay in registers, one set per stage. A lane reads only what it copied
// itself, so cp.async.wait_group orders it and no barrier is needed; a stage is overwritten only after the MMAs that
// consumed its registers have issued. Ring layout [stage][piece][thread] (piece = chunk u, row lo/hi): a warp's
// 16-byte accesses are consecutive, conflict-free. Token tiles, row groups of 1 only.
constexpr int kStages = 4;
constexpr int kPieces = 2 * kUnroll;  // 16-byte pieces per lane and buffer

template <typename T, int MT, bool Zeros>
__global__ void __launch_bounds__(kWarps * 32, MT <= 2 ? 2 : 1)
    groupwise_a16_staged_kernel(T* __restrict__ y, const T* __restrict__ x, const uint8_t* __restrict__ w, const float* __restrict__ scales,
                                const uint8_t* __restrict__ zeros, const T* __restrict__ bias, int M, int N, int K, int chunk_shift,
                                int64_t x_stride, int64_t y_stride) {
  extern __shared__ uint4 ring[];  // [kStages][kPieces][kWarps · 32]
  const int tid = threadIdx.x, split = tid / 32;
  groupwise_a16::enter_token_tile(x, y, M, x_stride, y_stride);
  const int nb = blockIdx.x * 16;
  const int chunks = K / 128, groups = chunks >> chunk_shift;
  const LaneRows<T, MT, Zeros> r(x, w, scales, zeros, M, N, nb, chunks, groups, x_stride);
  float acc[MT][4];
#pragma unroll
  for (int j = 0; j < MT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;

  constexpr int kStep = kWarps * kUnroll;
  float sc[kStages][kUnroll][2], zp[kStages][kUnroll][2];
  auto piece = [&](int stage, int p) -> uint4& { return ring[(stage * kPieces + p) * (kWarps * 32) + tid]; };
  // Buffer c0 (kUnroll consecutive chunks, c0 even and chunks even, so all in range when c0 is) into `stage`.
  auto issue = [&](int stage, int c0) {
    if (c0 >= chunks) return;  // warp-uniform: nothing to load or compute
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int gu = (c0 + u) >> chunk_shift;
      cp_async16(&piece(stage, 2 * u), r.w_lo + (c0 + u) * 64, 16);
      cp_async16(&piece(stage, 2 * u + 1), r.w_hi + (c0 + u) * 64, 16);
      sc[stage][u][0] = __ldg(r.s_lo + gu);
      sc[stage][u][1] = __ldg(r.s_hi + gu);
      zp[stage][u][0] = Zeros ? (float)__ldg(r.z_lo + gu) : 8.f;
      zp[stage][u][1] = Zeros ? (float)__ldg(r.z_hi + gu) : 8.f;
    }
  };
#pragma unroll
  for (int st = 0; st < kStages - 1; st++) {
    issue(st, split * kUnroll + st * kStep);
    cp_async_commit();
  }
  pdl_wait();  // the weights need nothing from the kernel before, x does
  pdl_launch_dependents();
  for (int c0 = split * kUnroll; c0 < chunks; c0 += kStages * kStep) {
#pragma unroll
    for (int st = 0; st < kStages; st++) {
      issue((st + kStages - 1) % kStages, c0 + (st + kStages - 1) * kStep);  // the stage computed one step ago
      cp_async_commit();
      cp_async_wait<kStages - 1>();  // this stage's copies have landed
      const int c = c0 + st * kStep;
      if (c < chunks) {  // warp-uniform
#pragma unroll
        for (int u = 0; u < kUnroll; u++)
          groupwise_a16::a16_piece<T, 4, MT, true>(acc, piece(st, 2 * u), piece(st, 2 * u + 1), sc[st][u][0], sc[st][u][1], zp[st][u][0],
                                                   zp[st][u][1], r.x_row, r.x_ok, (c + u) * 128, true);
      }
    }
  }
  reduce_partials_store<kWarps, 1, MT>(acc, split, 0, y, bias, M, N, nb, y_stride, [](float sum, int, int) { return sum; });
}

template <typename T, bool Zeros, int MT>
cudaError_t launch_staged(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                          int chunk_shift, int64_t xs, int64_t ys, cudaStream_t st) {
  constexpr int kSmem = kStages * kPieces * kWarps * 32 * 16;  // 64 KB
  if (const cudaError_t err = allow_dynamic_smem<groupwise_a16_staged_kernel<T, MT, Zeros>>(kSmem); err != cudaSuccess) return err;
  const dim3 block(kWarps * 32), grid((n + 15) / 16, (m + kGroupwiseA16TileRows - 1) / kGroupwiseA16TileRows);
  return launch_pdl(groupwise_a16_staged_kernel<T, MT, Zeros>, grid, block, kSmem, st, y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys);
}

template <typename T, bool Zeros>
cudaError_t launch_staged_tiles(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                                int chunk_shift, int64_t xs, int64_t ys, cudaStream_t st) {
  if (m <= 8) return launch_staged<T, Zeros, 1>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  if (m <= 16) return launch_staged<T, Zeros, 2>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  return launch_staged<T, Zeros, 4>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
}

// Whether the shared-memory staged form runs (INFERENCE_GROUPWISE_A16_STAGES=4), for comparisons.
bool staged() {
  static const bool on = [] {
    const char* v = std::getenv("INFERENCE_GROUPWISE_A16_STAGES");
    return v && std::atoi(v) == kStages;
  }();
  return on;
}

template <typename T, bool Zeros, int RG>
cudaError_t launch_tiles(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                         int chunk_shift, int64_t xs, int64_t ys, cudaStream_t st) {
  const dim3 block(kWarps * 32), grid((n + 16 * RG - 1) / (16 * RG), (m + kGroupwiseA16TileRows - 1) / kGroupwiseA16TileRows);
  if (m <= 8) return launch_pdl(groupwise_a16_aligned_kernel<T, 1, Zeros, RG>, grid, block, 0, st, y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys);
  if (m <= 16) return launch_pdl(groupwise_a16_aligned_kernel<T, 2, Zeros, RG>, grid, block, 0, st, y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys);
  return launch_pdl(groupwise_a16_aligned_kernel<T, 4, Zeros, RG>, grid, block, 0, st, y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys);
}

// Row groups per block (INFERENCE_GROUPWISE_A16_ROW_GROUPS = 1, 2 or 4; 1 otherwise), for comparisons.
int row_groups() {
  static const int rg = [] {
    const char* v = std::getenv("INFERENCE_GROUPWISE_A16_ROW_GROUPS");
    const int r = v ? std::atoi(v) : 1;
    return r == 2 || r == 4 ? r : 1;
  }();
  return rg;
}

template <typename T, bool Zeros>
cudaError_t launch_row_groups(T* y, const T* x, const uint8_t* w, const float* s, const uint8_t* z, const T* bias, int m, int n, int k,
                              int chunk_shift, int64_t xs, int64_t ys, cudaStream_t st) {
  if (staged()) return launch_staged_tiles<T, Zeros>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  switch (row_groups()) {
    case 2: return launch_tiles<T, Zeros, 2>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
    case 4: return launch_tiles<T, Zeros, 4>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
    default: return launch_tiles<T, Zeros, 1>(y, x, w, s, z, bias, m, n, k, chunk_shift, xs, ys, st);
  }
}

template <typename T>
cudaError_t launch_typed(void* y, const void* x, const int32_t* packed, const float* s, const uint8_t* z, const void* bias, int m, int n,
                         int k, int group, int64_t xs, int64_t ys, cudaStream_t st) {
  const int chunk_shift = __builtin_ctz(group / 128);
  const auto w = reinterpret_cast<const uint8_t*>(packed);
  return z ? launch_row_groups<T, true>((T*)y, (const T*)x, w, s, z, (const T*)bias, m, n, k, chunk_shift, xs, ys, st)
           : launch_row_groups<T, false>((T*)y, (const T*)x, w, s, z, (const T*)bias, m, n, k, chunk_shift, xs, ys, st);
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
