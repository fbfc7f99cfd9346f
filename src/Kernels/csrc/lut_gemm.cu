#include "dtype_convert.cuh"
#include "lut_gemm.h"
#include "mma.cuh"
#include "pdl.cuh"
#include "ptx_bits.cuh"

// Table kernel (M ≤ 8). A block owns 4·kLutThreads consecutive outputs and a range of K (split-K over blocks so
// that all SMs work even for N = 4096). It walks its K range in slabs of SW sign words (32·SW activations, never
// crossing a group): it first issues the 16-byte loads of all q planes' words of the slab (each thread 4 consecutive
// outputs, so a warp reads 512 contiguous bytes per plane and word), then builds the slab's tables in shared memory,
// T[c][b][m] = Σ_{t<8} (bit t of b ? +x[m, 8c+t] : −x[m, 8c+t]) in float32, for every chunk c of 8 activations,
// b = 0..255 and token m (m innermost, so one lookup returns all tokens' sums), and finally every byte of every
// sign word indexes its chunk's table: per plane s = Σ_c T[c][byte], y += α·s, and y += offset·Σx with Σx of the slab
// read from the all-ones entries T[c][255]. Nothing is dequantized.
//
// Table build: the thread of (chunk, low nibble l, token) computes L = ±x0±x1±x2±x3 for l once and writes the 16
// entries h·16 + l, H(h) = ±x4..±x7 from two pair sums; the threads of a warp write consecutive words (no bank
// conflicts). Lookups are random by nature: with float32 entries and M = 1 a warp's 32 lookups land on random banks
// (about 3.2-way conflicts on average); lut_gemm_m1_kernel below spends fewer instructions per lookup; for M ≥ 2
// one lookup is a 8/16/32-byte vector covering all tokens, so the conflict cost is paid once for all of them.
namespace {

constexpr int kLutThreads = 64;
constexpr int kLutOuts = 4;  // consecutive outputs per thread (one uint4 of sign words)
constexpr int kLutBlockN = kLutThreads * kLutOuts;

// Tokens padded to 1, 2, 4 or 8 (the table's innermost extent) and words per slab: tables of SW·4 chunks ·256·MP floats.
template <int MP> struct LutShape {
  static constexpr int SW = MP <= 2 ? 4 : (MP == 4 ? 2 : 1);
  static constexpr int kTableFloats = SW * 4 * 256 * MP;  // 16 KB (MP 1), 32 KB (MP 2, 4, 8)
};

template <int MP>
__device__ __forceinline__ void add_entry(float (&s)[MP], const float* e) {
  if constexpr (MP == 1) {
    s[0] += e[0];
  } else if constexpr (MP == 2) {
    const float2 v = *reinterpret_cast<const float2*>(e);
    s[0] += v.x; s[1] += v.y;
  } else {
#pragma unroll
    for (int j = 0; j < MP; j += 4) {
      const float4 v = *reinterpret_cast<const float4*>(e + j);
      s[j] += v.x; s[j + 1] += v.y; s[j + 2] += v.z; s[j + 3] += v.w;
    }
  }
}

// Four consecutive scales (float32 or float16) as loaded, and as floats; p is 16- (float) or 8-byte (half) aligned.
// A kernel that loads ahead keeps the loaded form until the scales' use: converting on arrival makes the warp wait for
// the load there (an instruction that reads a load's register waits for it).
__device__ __forceinline__ float4 load4_raw(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ uint2 load4_raw(const __half* p) { return *reinterpret_cast<const uint2*>(p); }
__device__ __forceinline__ float4 to_float4(float4 v) { return v; }
__device__ __forceinline__ float4 to_float4(uint2 v) {
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&v.x)), b = __half22float2(*reinterpret_cast<const __half2*>(&v.y));
  return make_float4(a.x, a.y, b.x, b.y);
}
template <typename S>
__device__ __forceinline__ float4 load4(const S* p) { return to_float4(load4_raw(p)); }

__device__ __forceinline__ uint32_t word_at(const uint4& v, int o) { return o == 0 ? v.x : o == 1 ? v.y : o == 2 ? v.z : v.w; }

// Weight j of a sign word's 32 as the dequantizing kernels compute it: offset + Σ_{i<q} ±α_i in float32, in plane order
// (bits: plane i's sign word; the kernels that dequantize share this order, so their roundings agree).
__device__ __forceinline__ float bcq_weight(const uint32_t (&bits)[4], const float (&a)[4], float off, int q, int j) {
  float s = off;
#pragma unroll
  for (int i = 0; i < 4; i++)
    if (i < q) s += ((bits[i] >> j) & 1u) ? a[i] : -a[i];
  return s;
}

// y [M, N] (or workspace [splits, M, N] float32 when gridDim.y > 1). Grid: (ceil(N / kLutBlockN), splits).
template <typename T, typename S, int MP>
__global__ void __launch_bounds__(kLutThreads) lut_gemm_kernel(T* __restrict__ y, float* __restrict__ ws, const T* __restrict__ x,
                                                               const uint32_t* __restrict__ signs, const S* __restrict__ alpha,
                                                               const S* __restrict__ offset, const T* __restrict__ bias,
                                                               int M, int N, int K, int q, int group, int64_t xs, int64_t ys,
                                                               int words_per_split) {
  using Shape = LutShape<MP>;
  constexpr int SW = Shape::SW;
  __shared__ __align__(16) float table[Shape::kTableFloats];
  const int W = (K + 31) / 32, group_words = group / 32, G = (K + group - 1) / group;
  const int n0 = (blockIdx.x * kLutThreads + threadIdx.x) * kLutOuts;
  const bool active = n0 < N;
  const int w_begin = blockIdx.y * words_per_split, w_end = min(W, w_begin + words_per_split);

  float acc[kLutOuts][MP];
#pragma unroll
  for (int o = 0; o < kLutOuts; o++)
#pragma unroll
    for (int m = 0; m < MP; m++) acc[o][m] = 0.f;

  for (int s0 = w_begin; s0 < w_end;) {
    const int g = s0 / group_words;
    const int sw = min(SW, min(w_end, (g + 1) * group_words) - s0);  // words in this slab (same group)
    // 1. The slab's sign words of every plane, all in flight before the table is built.
    uint4 words[4][SW];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < SW; j++)
        words[i][j] = (active && i < q && j < sw) ? ld_stream(signs + ((int64_t)i * W + s0 + j) * N + n0) : make_uint4(0, 0, 0, 0);
    __syncthreads();  // the previous slab's lookups are done with the table
    // 2. Tables of the slab's sw·4 chunks: task = (chunk, low nibble, token), token fastest.
    const int tasks = sw * 4 * 16 * MP;
    for (int task = threadIdx.x; task < tasks; task += kLutThreads) {
      const int m = task % MP, l = task / MP % 16, c = task / (16 * MP);
      const int k0 = (s0 * 32) + c * 8;
      float v[8];
#pragma unroll
      for (int t = 0; t < 8; t++) v[t] = (m < M && k0 + t < K) ? to_f(x[(int64_t)m * xs + k0 + t]) : 0.f;
      const float L = ((l & 1) ? v[0] : -v[0]) + ((l & 2) ? v[1] : -v[1]) + (((l & 4) ? v[2] : -v[2]) + ((l & 8) ? v[3] : -v[3]));
      const float p45[4] = {-v[4] - v[5], v[4] - v[5], -v[4] + v[5], v[4] + v[5]};
      const float p67[4] = {-v[6] - v[7], v[6] - v[7], -v[6] + v[7], v[6] + v[7]};
      float* tc = table + c * 256 * MP;
#pragma unroll
      for (int h = 0; h < 16; h++) tc[(h * 16 + l) * MP + m] = L + (p45[h & 3] + p67[h >> 2]);
    }
    __syncthreads();
    if (active) {
      // 3. Lookups: every byte of every word indexes its chunk's table.
#pragma unroll
      for (int i = 0; i < 4; i++) {
        if (i >= q) break;
        const float4 a = load4(alpha + ((int64_t)i * G + g) * N + n0);
        const float av[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
        for (int o = 0; o < kLutOuts; o++) {
          float s[MP];
#pragma unroll
          for (int m = 0; m < MP; m++) s[m] = 0.f;
#pragma unroll
          for (int j = 0; j < SW; j++) {
            if (j < sw) {
              const uint32_t wd = word_at(words[i][j], o);
#pragma unroll
              for (int b = 0; b < 4; b++) add_entry<MP>(s, table + ((j * 4 + b) * 256 + ((wd >> (8 * b)) & 255)) * MP);
            }
          }
#pragma unroll
          for (int m = 0; m < MP; m++) acc[o][m] = fmaf(av[o], s[m], acc[o][m]);
        }
      }
      // 4. offset·Σx over the slab (Σx of a chunk is its all-ones entry).
      float xsum[MP];
#pragma unroll
      for (int m = 0; m < MP; m++) xsum[m] = 0.f;
      for (int c = 0; c < sw * 4; c++) add_entry<MP>(xsum, table + (c * 256 + 255) * MP);
      const float4 off = load4(offset + (int64_t)g * N + n0);
      const float ov[4] = {off.x, off.y, off.z, off.w};
#pragma unroll
      for (int o = 0; o < kLutOuts; o++)
#pragma unroll
        for (int m = 0; m < MP; m++) acc[o][m] = fmaf(ov[o], xsum[m], acc[o][m]);
    }
    s0 += sw;
  }
  if (!active) return;
#pragma unroll
  for (int m = 0; m < MP; m++) {
    if (m >= M) break;
#pragma unroll
    for (int o = 0; o < kLutOuts; o++) {
      if (gridDim.y > 1) ws[((int64_t)blockIdx.y * M + m) * N + n0 + o] = acc[o][m];
      else y[(int64_t)m * ys + n0 + o] = from_f<T>(acc[o][m] + (bias ? to_f(bias[n0 + o]) : 0.f));
    }
  }
}

// The sum of the entries of the 4 bytes of a sign word in 4 consecutive tables (chunk: shared-memory address of the
// first table, tables kChunkFloats floats apart). Per byte: one prmt (the byte, zero-extended), one multiply-add (its
// entry's 32-bit shared address; the table's offset goes into the load's immediate), the load and one add, summed as
// a tree.
template <int kChunkFloats>
__device__ __forceinline__ float word_lookups(uint32_t chunk, uint32_t wd) {
  float t[4];
#pragma unroll
  for (int b = 0; b < 4; b++) t[b] = ld_shared_f32(chunk + b * kChunkFloats * 4 + prmt(wd, 0, 0x4440 | b) * 4);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

// The one-token table kernel: the same walk as lut_gemm_kernel with M = 1, with a slab's loads issued while the slab
// before it is still being worked on and lookups of 4 instructions (word_lookups). A warp's 32 lookups into a table
// land on random banks: about 3.2 bank cycles on average, and copies of the table do not lower that (with r copies
// each read by 32/r lanes, the copies' bank sets split the warp into r groups of 32/r lanes over 32/r banks, and the
// worst group sets the cost). Tables are 256 floats padded to kChunkFloats, so the two chunks a warp builds at once
// start 16 banks apart. IK_LUTGEMM_M1_KERNEL=0 falls back to lut_gemm_kernel, for comparisons.
// Loads ahead, in one set of registers: each piece of slab s is reloaded with slab s + 1's as soon as its last reader
// is done — the x chunks after the tables are built, plane i's sign words and α after its lookups, the offsets after
// the Σx term — so a block with several slabs has the next slab's bytes in flight while it builds and reads tables,
// for the register cost of one slab (Q, the planes, sizes it exactly).
// x_vec: x starts on a 16-byte boundary, so a 16-bit chunk of 8 activations is one load.
template <typename T, typename S, int Q>
__global__ void __launch_bounds__(kLutThreads) lut_gemm_m1_kernel(T* __restrict__ y, float* __restrict__ ws, const T* __restrict__ x,
                                                                  const uint32_t* __restrict__ signs, const S* __restrict__ alpha,
                                                                  const S* __restrict__ offset, const T* __restrict__ bias, int N,
                                                                  int K, int group, int words_per_split, bool x_vec) {
  constexpr int SW = 4;  // words per slab: 16 chunks; a thread builds one chunk per word (the lookups' sum tree assumes 4)
  constexpr int kChunkFloats = 256 + 16;
  constexpr bool kVecX = sizeof(T) == 2;  // 8 activations in one 16-byte load
  __shared__ __align__(16) float table[SW * 4 * kChunkFloats];  // 17 KB
  const int W = (K + 31) / 32, group_words = group / 32, G = (K + group - 1) / group;
  const int n0 = (blockIdx.x * kLutThreads + threadIdx.x) * kLutOuts;
  const bool active = n0 < N;
  const int w_begin = blockIdx.y * words_per_split, w_end = min(W, w_begin + words_per_split);
  const int l = threadIdx.x % 16, c_first = threadIdx.x / 16;  // build tasks: chunks c_first + 4j (j < sw), low nibble l
  const uint32_t table_addr = smem_addr(table);
  auto slab_words = [&](int s0) { return min(SW, min(w_end, (s0 / group_words + 1) * group_words) - s0); };

  // The slab's operands (sw words from s0, one group) and their loads.
  uint4 words[Q][SW];
  decltype(load4_raw(alpha)) a[Q], off;  // as loaded (see load4_raw); read by active threads only
  uint4 xc[SW];  // the 8 activations of chunk c_first + 4j (kVecX and whole chunks only)
  auto load_plane = [&](int i, int s0, int sw) {
    const int g = s0 / group_words;
#pragma unroll
    for (int j = 0; j < SW; j++)
      words[i][j] = (active && j < sw) ? ld_stream(signs + ((int64_t)i * W + s0 + j) * N + n0) : make_uint4(0, 0, 0, 0);
    if (active) a[i] = load4_raw(alpha + ((int64_t)i * G + g) * N + n0);
  };
  auto load_x = [&](int s0, int sw) {
    if constexpr (kVecX) {
#pragma unroll
      for (int j = 0; j < SW; j++) {
        const int k0 = s0 * 32 + (c_first + 4 * j) * 8;
        xc[j] = x_vec && j < sw && k0 + 8 <= K ? *reinterpret_cast<const uint4*>(x + k0) : make_uint4(0, 0, 0, 0);
      }
    }
  };
  auto load_offsets = [&](int s0) {
    if (active) off = load4_raw(offset + (int64_t)(s0 / group_words) * N + n0);
  };
  // Chunk c_first + 4j's entries h·16 + l for h = 0..15.
  auto build = [&](int s0, int sw) {
#pragma unroll
    for (int j = 0; j < SW; j++) {
      if (j >= sw) break;
      const int c = c_first + 4 * j, k0 = s0 * 32 + c * 8;
      float v[8];
      if (kVecX && x_vec && k0 + 8 <= K) {
        const T* e = reinterpret_cast<const T*>(&xc[j]);
#pragma unroll
        for (int t = 0; t < 8; t++) v[t] = to_f(e[t]);
      } else {
#pragma unroll
        for (int t = 0; t < 8; t++) v[t] = k0 + t < K ? to_f(x[k0 + t]) : 0.f;
      }
      const float L = ((l & 1) ? v[0] : -v[0]) + ((l & 2) ? v[1] : -v[1]) + (((l & 4) ? v[2] : -v[2]) + ((l & 8) ? v[3] : -v[3]));
      const float p45[4] = {-v[4] - v[5], v[4] - v[5], -v[4] + v[5], v[4] + v[5]};
      const float p67[4] = {-v[6] - v[7], v[6] - v[7], -v[6] + v[7], v[6] + v[7]};
      float* tc = table + c * kChunkFloats;
#pragma unroll
      for (int h = 0; h < 16; h++) tc[h * 16 + l] = L + (p45[h & 3] + p67[h >> 2]);
    }
  };

  float acc[kLutOuts] = {0.f, 0.f, 0.f, 0.f};
  int s0 = w_begin, sw = w_begin < w_end ? slab_words(s0) : 0;  // sw = 0: no (more) slabs, uniform over the block
  if (sw) {
#pragma unroll
    for (int i = 0; i < Q; i++) load_plane(i, s0, sw);
    load_offsets(s0);
  }
  pdl_wait();  // the weights above are the layer's own; x and the outputs belong to the kernels around this one
  if (sw) load_x(s0, sw);
  while (sw) {
    const int s1 = s0 + sw, sw1 = s1 < w_end ? slab_words(s1) : 0;  // the next slab (sw1 = 0: none)
    __syncthreads();  // the previous slab's lookups are done with the table
    build(s0, sw);
    if (sw1) load_x(s1, sw1);
    __syncthreads();
    if (active) {
#pragma unroll
      for (int i = 0; i < Q; i++) {
        const float4 af = to_float4(a[i]);
        const float av[4] = {af.x, af.y, af.z, af.w};
#pragma unroll
        for (int o = 0; o < kLutOuts; o++) {
          float s = 0.f;
          if (sw == SW) {  // a whole slab (always, when G and the split are multiples of 128 columns): no word checks
            float sj[SW];
#pragma unroll
            for (int j = 0; j < SW; j++) sj[j] = word_lookups<kChunkFloats>(table_addr + j * 4 * kChunkFloats * 4, word_at(words[i][j], o));
            s = (sj[0] + sj[1]) + (sj[2] + sj[3]);
          } else {
#pragma unroll
            for (int j = 0; j < SW; j++)
              if (j < sw) s += word_lookups<kChunkFloats>(table_addr + j * 4 * kChunkFloats * 4, word_at(words[i][j], o));
          }
          acc[o] = fmaf(av[o], s, acc[o]);
        }
        if (sw1) load_plane(i, s1, sw1);
      }
      float xsum = 0.f;  // Σx of a chunk = T[255]
      for (int c = 0; c < sw * 4; c++) xsum += table[c * kChunkFloats + 255];
      const float4 of = to_float4(off);
      acc[0] = fmaf(of.x, xsum, acc[0]);
      acc[1] = fmaf(of.y, xsum, acc[1]);
      acc[2] = fmaf(of.z, xsum, acc[2]);
      acc[3] = fmaf(of.w, xsum, acc[3]);
      if (sw1) load_offsets(s1);
    }
    s0 = s1, sw = sw1;
  }
  pdl_launch_dependents();  // after the loop: a successor launched early would hold block slots this grid still needs
  if (!active) return;
#pragma unroll
  for (int o = 0; o < kLutOuts; o++) {
    if (gridDim.y > 1) ws[(int64_t)blockIdx.y * N + n0 + o] = acc[o];
    else y[n0 + o] = from_f<T>(acc[o] + (bias ? to_f(bias[n0 + o]) : 0.f));
  }
}

// y [M, N] = Σ_s ws [s, M, N] + bias.
template <typename T>
__global__ void splitk_reduce_kernel(T* __restrict__ y, const float* __restrict__ ws, const T* __restrict__ bias, int M, int N,
                                     int splits, int64_t ys) {
  pdl_start();
  const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (int64_t)M * N) return;
  const int m = (int)(idx / N), n = (int)(idx % N);
  float v = bias ? to_f(bias[n]) : 0.f;
  for (int s = 0; s < splits; s++) v += ws[(int64_t)s * M * N + idx];
  y[(int64_t)m * ys + n] = from_f<T>(v);
}

template <typename T>
cudaError_t reduce(T* y, const float* ws, const T* bias, int m, int n, int splits, int64_t ys, cudaStream_t stream) {
  const int64_t total = (int64_t)m * n;
  return launch_pdl(splitk_reduce_kernel<T>, dim3((unsigned)((total + 255) / 256)), dim3(256), 0, stream, y, ws, bias, m, n, splits, ys);
}

// Words per split: a multiple of `unit` words, so that ceil(W / result) blocks cover K.
int words_per_split(int W, int splits, int unit) {
  const int units = (W + unit - 1) / unit;
  return ((units + splits - 1) / splits) * unit;
}

// Whether M = 1 runs lut_gemm_m1_kernel (IK_LUTGEMM_M1_KERNEL=0 turns it off, for comparisons).
bool one_token_kernel() {
  static const bool on = !env_switched_off("IK_LUTGEMM_M1_KERNEL");
  return on;
}

template <typename T, typename S>
cudaError_t lut_launch(void* y, float* ws, const void* x, const uint32_t* signs, const S* alpha, const S* offset, const void* bias,
                       int m, int n, int k, int q, int group, int64_t xs, int64_t ys, int splits, cudaStream_t stream) {
  const int W = (k + 31) / 32;
  const int mp = m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8;
  const int sw = mp <= 2 ? 4 : mp == 4 ? 2 : 1;
  const int wps = words_per_split(W, splits, sw);
  const int real_splits = (W + wps - 1) / wps;
  const dim3 grid((n + kLutBlockN - 1) / kLutBlockN, real_splits);
  T* yt = (T*)y;
  const T* xt = (const T*)x;
  const T* bt = (const T*)bias;
  cudaError_t err = cudaSuccess;
  switch (mp) {
    case 1:
      if (one_token_kernel()) {
        const bool x_vec = reinterpret_cast<uintptr_t>(x) % 16 == 0;
        auto one_token = [&](auto kernel) {
          return launch_pdl(kernel, grid, dim3(kLutThreads), 0, stream, yt, ws, xt, signs, alpha, offset, bt, n, k, group, wps, x_vec);
        };
        switch (q) {
          case 1: err = one_token(lut_gemm_m1_kernel<T, S, 1>); break;
          case 2: err = one_token(lut_gemm_m1_kernel<T, S, 2>); break;
          case 3: err = one_token(lut_gemm_m1_kernel<T, S, 3>); break;
          default: err = one_token(lut_gemm_m1_kernel<T, S, 4>); break;
        }
      } else
        lut_gemm_kernel<T, S, 1><<<grid, kLutThreads, 0, stream>>>(yt, ws, xt, signs, alpha, offset, bt, m, n, k, q, group, xs, ys, wps);
      break;
    case 2: lut_gemm_kernel<T, S, 2><<<grid, kLutThreads, 0, stream>>>(yt, ws, xt, signs, alpha, offset, bt, m, n, k, q, group, xs, ys, wps); break;
    case 4: lut_gemm_kernel<T, S, 4><<<grid, kLutThreads, 0, stream>>>(yt, ws, xt, signs, alpha, offset, bt, m, n, k, q, group, xs, ys, wps); break;
    default: lut_gemm_kernel<T, S, 8><<<grid, kLutThreads, 0, stream>>>(yt, ws, xt, signs, alpha, offset, bt, m, n, k, q, group, xs, ys, wps); break;
  }
  if (err == cudaSuccess) err = cudaGetLastError();
  if (err != cudaSuccess || real_splits == 1) return err;
  return reduce<T>(yt, ws, bt, m, n, real_splits, ys, stream);
}

template <typename T>
struct LutLaunch {
  static cudaError_t run(void* y, float* ws, const void* x, const uint32_t* signs, const void* alpha, const void* offset, int scale_dtype,
                         const void* bias, int m, int n, int k, int q, int group, int64_t xs, int64_t ys, int splits, cudaStream_t stream) {
    return scale_dtype == 1
        ? lut_launch<T, __half>(y, ws, x, signs, (const __half*)alpha, (const __half*)offset, bias, m, n, k, q, group, xs, ys, splits, stream)
        : lut_launch<T, float>(y, ws, x, signs, (const float*)alpha, (const float*)offset, bias, m, n, k, q, group, xs, ys, splits, stream);
  }
};

// ---------------------------------------------------------------------------------------------------------------------
// Tensor-core kernel (any M, float16/bfloat16). Block tile 64 tokens × 64 outputs, K step = one sign word (32).
// Per step the 128 threads stage x [64 × 32] and dequantize W [64 outputs × 32] (Σ_i α_i·b_i + offset in float32,
// rounded to the serving dtype) into shared memory, then 4 warps (2 × 2, 32 × 32 each) run m16n8k16 MMAs. Sign words
// are loaded kDepth steps ahead into a register ring (enough bytes in flight for small M, where the kernel is bound by
// reading them; non-caching, since each is read by the two threads of one output and never again), α, offset and x
// one step ahead. Rows are padded to
// 20 words, so fragment reads and 16-byte stores hit distinct banks. Split-K over blocks when the tile grid is small.
constexpr int kMmaBM = 64, kMmaBN = 64, kMmaThreads = 128, kRowWords = 20;
constexpr int kDepth = 8;  // steps of sign words in flight per thread (the kernel is bound by their latency at small M)

template <typename T, typename S, bool Bf16>
__global__ void __launch_bounds__(kMmaThreads, 3) bcq_mma_kernel(T* __restrict__ y, float* __restrict__ ws, const T* __restrict__ x,
                                                              const uint32_t* __restrict__ signs, const S* __restrict__ alpha,
                                                              const S* __restrict__ offset, const T* __restrict__ bias, int M,
                                                              int N, int K, int q, int group, int64_t xs, int64_t ys,
                                                              int words_per_split) {
  __shared__ __align__(16) uint32_t xs_s[kMmaBM][kRowWords];
  __shared__ __align__(16) uint32_t ws_s[kMmaBN][kRowWords];
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, g = lane / 4, t = lane % 4;
  const int W = (K + 31) / 32, group_words = group / 32, G = (K + group - 1) / group;
  const int m0 = blockIdx.y * kMmaBM, nb = blockIdx.x * kMmaBN;
  const int w_begin = blockIdx.z * words_per_split, w_end = min(W, w_begin + words_per_split);
  // Dequantization role: output nb + dn, k half dh (16 weights).
  const int dn = tid % kMmaBN, dh = tid / kMmaBN;
  const bool n_ok = nb + dn < N;
  // x staging role: two 16-byte pieces, rows xr and xr + 32, part xp (8 elements).
  const int xr = tid / 4, xp = tid % 4;

  // Sign words kDepth steps ahead (a ring in registers), α, offset and x one step ahead.
  uint32_t ring[kDepth][4];
  float na[4], noff;
  uint4 nx[2];
  auto load_words = [&](uint32_t (&dst)[4], int w) {
#pragma unroll
    for (int i = 0; i < 4; i++)
      dst[i] = (i < q && n_ok && w < w_end) ? ld_stream_u32(signs + ((int64_t)i * W + w) * N + nb + dn) : 0u;
  };
  auto prefetch = [&](int w) {
    const int gg = (w * 32) / group;
#pragma unroll
    for (int i = 0; i < 4; i++) na[i] = (i < q && n_ok) ? to_f(alpha[((int64_t)i * G + gg) * N + nb + dn]) : 0.f;
    noff = n_ok ? to_f(offset[(int64_t)gg * N + nb + dn]) : 0.f;
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const int row = m0 + xr + 32 * r, k = w * 32 + xp * 8;
      nx[r] = (row < M && k < K) ? *reinterpret_cast<const uint4*>(x + (int64_t)row * xs + k) : make_uint4(0, 0, 0, 0);
    }
  };
  (void)group_words;

  float acc[2][4][4];
#pragma unroll
  for (int a = 0; a < 2; a++)
#pragma unroll
    for (int b = 0; b < 4; b++) acc[a][b][0] = acc[a][b][1] = acc[a][b][2] = acc[a][b][3] = 0.f;

#pragma unroll
  for (int d = 0; d < kDepth; d++) load_words(ring[d], w_begin + d);
  if (w_begin < w_end) prefetch(w_begin);
  for (int w0 = w_begin; w0 < w_end; w0 += kDepth) {
#pragma unroll
  for (int d = 0; d < kDepth; d++) {
    const int w = w0 + d;
    if (w >= w_end) break;  // uniform over the block
    __syncthreads();  // the previous step's fragments are read
    // Dequantize 16 weights of output dn: k = 32w + 16dh + j.
    uint32_t packed[8];
#pragma unroll
    for (int j = 0; j < 16; j += 2) {
      const T lo = from_f<T>(bcq_weight(ring[d], na, noff, q, 16 * dh + j)), hi = from_f<T>(bcq_weight(ring[d], na, noff, q, 16 * dh + j + 1));
      packed[j / 2] = (uint32_t)(*reinterpret_cast<const uint16_t*>(&lo)) | ((uint32_t)(*reinterpret_cast<const uint16_t*>(&hi)) << 16);
    }
    *reinterpret_cast<uint4*>(&ws_s[dn][8 * dh]) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
    *reinterpret_cast<uint4*>(&ws_s[dn][8 * dh + 4]) = make_uint4(packed[4], packed[5], packed[6], packed[7]);
#pragma unroll
    for (int r = 0; r < 2; r++) *reinterpret_cast<uint4*>(&xs_s[xr + 32 * r][4 * xp]) = nx[r];
    __syncthreads();
    load_words(ring[d], w + kDepth);
    if (w + 1 < w_end) prefetch(w + 1);
    const int wm = (warp % 2) * 32, wn = (warp / 2) * 32;
#pragma unroll
    for (int kk = 0; kk < 2; kk++) {
      uint32_t af[2][4], bf[4][2];
#pragma unroll
      for (int mt = 0; mt < 2; mt++) {
        const int r = wm + 16 * mt + g;
        af[mt][0] = xs_s[r][kk * 8 + t];
        af[mt][1] = xs_s[r + 8][kk * 8 + t];
        af[mt][2] = xs_s[r][kk * 8 + 4 + t];
        af[mt][3] = xs_s[r + 8][kk * 8 + 4 + t];
      }
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
        const int c = wn + 8 * nt + g;
        bf[nt][0] = ws_s[c][kk * 8 + t];
        bf[nt][1] = ws_s[c][kk * 8 + 4 + t];
      }
#pragma unroll
      for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int nt = 0; nt < 4; nt++)
          mma_f16_16x8x16<Bf16>(acc[mt][nt], af[mt][0], af[mt][1], af[mt][2], af[mt][3], bf[nt][0], bf[nt][1]);
    }
  }
  }
  const int wm = (warp % 2) * 32, wn = (warp / 2) * 32;
#pragma unroll
  for (int mt = 0; mt < 2; mt++)
#pragma unroll
    for (int nt = 0; nt < 4; nt++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int row = m0 + wm + 16 * mt + g + 8 * h;
        if (row >= M) continue;
#pragma unroll
        for (int u = 0; u < 2; u++) {
          const int col = nb + wn + 8 * nt + 2 * t + u;
          if (col >= N) continue;
          const float v = acc[mt][nt][2 * h + u];
          if (gridDim.z > 1) ws[((int64_t)blockIdx.z * M + row) * N + col] = v;
          else y[(int64_t)row * ys + col] = from_f<T>(v + (bias ? to_f(bias[col]) : 0.f));
        }
      }
}

template <typename T, typename S, bool Bf16>
cudaError_t launch_mma(void* y, float* ws, const void* x, const uint32_t* signs, const S* alpha, const S* offset,
                       const void* bias, int m, int n, int k, int q, int group, int64_t xs, int64_t ys, int splits,
                       cudaStream_t stream) {
  const int W = (k + 31) / 32;
  const int wps = words_per_split(W, splits, 1);
  const int real_splits = (W + wps - 1) / wps;
  const dim3 grid((n + kMmaBN - 1) / kMmaBN, (m + kMmaBM - 1) / kMmaBM, real_splits);
  bcq_mma_kernel<T, S, Bf16><<<grid, kMmaThreads, 0, stream>>>((T*)y, ws, (const T*)x, signs, alpha, offset, (const T*)bias, m, n, k, q,
                                                           group, xs, ys, wps);
  auto err = cudaGetLastError();
  if (err != cudaSuccess || real_splits == 1) return err;
  return reduce<T>((T*)y, ws, (const T*)bias, m, n, real_splits, ys, stream);
}

// ---------------------------------------------------------------------------------------------------------------------
// Dequantization (baseline): W [N, K] in T. A block of 256 threads takes 32 outputs × 8 sign words (256 columns).
// Thread (warp w, lane l) reads word w of output l for every plane (n fastest: each load instruction reads 128
// contiguous bytes), computes its 32 weights (offset + Σ_i ±α_i in float32, rounded once to T) and stores them into
// a shared-memory tile as 16-byte pieces; then each warp writes four of the tile's rows, lane l the 8 columns from 8l
// (each store instruction writes one row's 512 contiguous bytes at bf16/fp16). Rows are padded by 16 bytes, so the
// tile's 16-byte stores and loads are free of bank conflicts.
constexpr int kDequantRows = 32, kDequantWords = 8;

template <typename T, typename S>
__global__ void __launch_bounds__(256) bcq_dequantize_kernel(T* __restrict__ w, const uint32_t* __restrict__ signs,
                                                             const S* __restrict__ alpha, const S* __restrict__ offset, int N, int K,
                                                             int q, int group) {
  constexpr int kCols = kDequantWords * 32, kPitch = kCols + 16 / sizeof(T);
  __shared__ __align__(16) T tile[kDequantRows][kPitch];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int n0 = blockIdx.x * kDequantRows, w0 = blockIdx.y * kDequantWords, k0 = w0 * 32;
  const int W = (K + 31) / 32, G = (K + group - 1) / group;
  const int n = n0 + lane, wi = w0 + warp;
  if (n < N && wi < W) {
    const int g = wi * 32 / group;
    uint32_t bits[4];
    float a[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      bits[i] = i < q ? signs[((int64_t)i * W + wi) * N + n] : 0u;
      a[i] = i < q ? to_f(alpha[((int64_t)i * G + g) * N + n]) : 0.f;
    }
    const float off = to_f(offset[(int64_t)g * N + n]);
    __align__(16) T v[32];
#pragma unroll
    for (int j = 0; j < 32; j++) v[j] = from_f<T>(bcq_weight(bits, a, off, q, j));
#pragma unroll
    for (int p = 0; p < (int)(32 * sizeof(T) / 16); p++)
      reinterpret_cast<uint4*>(&tile[lane][warp * 32])[p] = reinterpret_cast<const uint4*>(v)[p];
  }
  __syncthreads();
  const int k = k0 + 8 * lane;  // this lane's 8 columns of each row
  const bool vec = k + 8 <= K && (K * sizeof(T)) % 16 == 0;
  for (int r = warp; r < kDequantRows && n0 + r < N; r += 8) {
    T* dst = w + (int64_t)(n0 + r) * K + k;
    const T* src = &tile[r][8 * lane];
    if (vec) {
#pragma unroll
      for (int p = 0; p < (int)(8 * sizeof(T) / 16); p++) reinterpret_cast<uint4*>(dst)[p] = reinterpret_cast<const uint4*>(src)[p];
    } else {
      for (int j = 0; j < 8 && k + j < K; j++) dst[j] = src[j];
    }
  }
}

template <typename T>
struct DequantLaunch {
  static cudaError_t run(void* w, const uint32_t* signs, const void* alpha, const void* offset, int scale_dtype, int n, int k, int q,
                         int group, cudaStream_t stream) {
    const dim3 grid((n + kDequantRows - 1) / kDequantRows, ((k + 31) / 32 + kDequantWords - 1) / kDequantWords);
    if (scale_dtype == 1)
      bcq_dequantize_kernel<T, __half><<<grid, 256, 0, stream>>>((T*)w, signs, (const __half*)alpha, (const __half*)offset, n, k, q, group);
    else
      bcq_dequantize_kernel<T, float><<<grid, 256, 0, stream>>>((T*)w, signs, (const float*)alpha, (const float*)offset, n, k, q, group);
    return cudaGetLastError();
  }
};

}  // namespace

int lut_gemm_splits(int m, int n, int k, int sms) {
  const int blocks_n = (n + kLutBlockN - 1) / kLutBlockN;
  const int words = (k + 31) / 32;
  const auto for_blocks_per_sm = [&](int per_sm) {
    const int want = (per_sm * sms + blocks_n - 1) / blocks_n;
    return want < 1 ? 1 : (want > words ? words : want);
  };
  static const int forced = [] {  // IK_LUTGEMM_BLOCKS_PER_SM=1..32 fixes the count, for comparisons
    const int b = env_int("IK_LUTGEMM_BLOCKS_PER_SM");
    return b >= 1 && b <= 32 ? b : 0;
  }();
  if (forced) return for_blocks_per_sm(forced);
  // About 8 blocks per SM, a little over the ~7 that are resident at q = 3. At one token, 16 where every block still
  // walks at least 24 words (6 slabs): a grid of long blocks slightly over one wave leaves a long tail, while short
  // blocks pay their first loads and their partial sums' stores more often. H100, 3 bits, 16 against 8 per SM:
  // 36864x12288 100 against 120 µs, 49152x12288 127 against 165; 4096x14336 (3 words per block at 16) 23.1 against 19.6
  // (docs/benchmarks/h100-lutgemm-kernels.json: kernel_decisions).
  const int wide = for_blocks_per_sm(16);
  return m == 1 && words / wide >= 24 ? wide : for_blocks_per_sm(8);
}

int bcq_mma_splits(int m, int n, int k, int sms) {
  const int tiles = ((n + kMmaBN - 1) / kMmaBN) * ((m + kMmaBM - 1) / kMmaBM);
  const int words = (k + 31) / 32;
  int want = (3 * sms + tiles - 1) / tiles;  // 3 resident blocks per SM
  if (want > words / 4) want = words / 4;  // at least 4 steps (128 activations) per block
  return want < 1 ? 1 : want;
}

cudaError_t launch_lut_gemm(int dtype, void* y, float* workspace, const void* x, const uint32_t* signs, const void* alpha,
                            const void* offset, int scale_dtype, const void* bias, int m, int n, int k, int q, int group,
                            int64_t x_stride, int64_t y_stride, int splits, cudaStream_t stream) {
  if (m < 1 || m > kLutMaxRows || q < 1 || q > 4 || group % 32 != 0 || n % 4 != 0 || (scale_dtype != 0 && scale_dtype != 1))
    return cudaErrorInvalidValue;
  return dispatch_dtype<LutLaunch>(dtype, y, workspace, x, signs, alpha, offset, scale_dtype, bias, m, n, k, q, group, x_stride, y_stride,
                                   splits, stream);
}

cudaError_t launch_bcq_mma(int dtype, void* y, float* workspace, const void* x, const uint32_t* signs, const void* alpha,
                           const void* offset, int scale_dtype, const void* bias, int m, int n, int k, int q, int group,
                           int64_t x_stride, int64_t y_stride, int splits, cudaStream_t stream) {
  if (m < 1 || q < 1 || q > 4 || group % 32 != 0 || k % 8 != 0 || x_stride % 8 != 0 || (scale_dtype != 0 && scale_dtype != 1))
    return cudaErrorInvalidValue;
  const bool half_scales = scale_dtype == 1;
  const auto* af = (const float*)alpha;
  const auto* of = (const float*)offset;
  const auto* ah = (const __half*)alpha;
  const auto* oh = (const __half*)offset;
  switch (dtype) {
    case 1:
      return half_scales ? launch_mma<__half, __half, false>(y, workspace, x, signs, ah, oh, bias, m, n, k, q, group, x_stride, y_stride, splits, stream)
                         : launch_mma<__half, float, false>(y, workspace, x, signs, af, of, bias, m, n, k, q, group, x_stride, y_stride, splits, stream);
    case 2:
      return half_scales ? launch_mma<__nv_bfloat16, __half, true>(y, workspace, x, signs, ah, oh, bias, m, n, k, q, group, x_stride, y_stride, splits, stream)
                         : launch_mma<__nv_bfloat16, float, true>(y, workspace, x, signs, af, of, bias, m, n, k, q, group, x_stride, y_stride, splits, stream);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_bcq_dequantize(int dtype, void* w, const uint32_t* signs, const void* alpha, const void* offset, int scale_dtype,
                                  int n, int k, int q, int group, cudaStream_t stream) {
  if (q < 1 || q > 4 || group % 32 != 0 || (scale_dtype != 0 && scale_dtype != 1)) return cudaErrorInvalidValue;
  return dispatch_dtype<DequantLaunch>(dtype, w, signs, alpha, offset, scale_dtype, n, k, q, group, stream);
}
