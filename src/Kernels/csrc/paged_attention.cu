// Paged decode attention with an online softmax (flash-decoding). No per-token scratch, and the launch shape depends
// only on the batch and the block-table width, never on the context lengths (a requirement for CUDA graphs).
//
// Grid (B, KV·sub_groups, splits); block kWarps warps. One block serves up to kMaxGroup query heads that share a KV
// head (GQA), so each key/value row is read once for all of them. Lanes work in teams of L = pow2 ≥ D/8: a team
// holds one token, each lane 8 dims as one 16-byte load, and the team's dot products reduce over log2(L) shuffles.
// A warp holds 32/L teams and each step takes kUnroll tokens per team (4; 2 for float32), so a block keeps the K and V
// rows of kUnroll·kWarps·32/L tokens in flight (32 for head_dim 128); the queries sit in shared memory to leave the
// registers to those loads. The loads are software-pipelined: a step's K registers are refilled with the next step's
// tokens as soon as its dot products are done and its V registers once its accumulation is, so every load overlaps
// math; the rows stay as loaded (16 bytes per 8 elements) until they are used.
// With few sequences (B·KV well under the SM count) the context is cut into `splits` ranges, each block writes
// its partial (Σ e^{s-m}·v, m, Σ e^{s-m}) to the workspace and a second kernel combines them; or (the Cluster
// instances, compute capability 9.0+) a sequence's splits form a thread-block cluster and combine in distributed shared
// memory, one launch.
// With PagedRope (the Rope instances) the kernel also does the step's rotary embedding and cache write: the blocks rotate
// their query heads as they stage them, and the block whose range holds the step's token stores its rotated key and
// its value to the caches and keeps them in shared memory, where its fetches of that token read them.
#include "paged_attention.h"
#include "pdl.cuh"  // every kernel here is a programmatic dependent launch: it waits first, then lets its successor start
#include "rope.cuh"
#include "row_ops.cuh"
#include <cfloat>
#include <cooperative_groups.h>
#include <type_traits>

namespace {

constexpr int kWarps = 4;
constexpr int kMaxGroup = 8;    // query heads per block (NH, a template argument, is the smallest power of 2 ≥ min(group, 8))
constexpr int kTableChunk = 256;  // block-table entries staged in shared memory at a time
constexpr int kMaxHeadDim = 256;
// Tokens per team and step. float32 rows take twice the registers: 4 of them would spill at 128 registers.
template <typename T> constexpr int kUnroll = sizeof(T) == 2 ? 4 : 2;

// Merges another partial softmax (m2, l2, acc2) into (m, l, acc); m starts at -FLT_MAX, so empty partials add 0.
__device__ inline void merge(float& m, float& l, float (&acc)[8], float m2, float l2, const float (&acc2)[8]) {
  const float mn = fmaxf(m, m2), a = __expf(m - mn), b = __expf(m2 - mn);
  l = l * a + l2 * b;
#pragma unroll
  for (int e = 0; e < 8; e++) acc[e] = acc[e] * a + acc2[e] * b;
  m = mn;
}

// 8 elements of a K or V row as loaded (one 16-byte vector for 16-bit types, two for float32): the pipeline keeps rows
// in this form, half the registers of floats for 16-bit types, and converts them where they are used.
template <typename T> struct Raw8 {
  uint4 r;
  __device__ void load(const T* p) { r = *reinterpret_cast<const uint4*>(p); }
  __device__ void zero() { r = make_uint4(0u, 0u, 0u, 0u); }
  __device__ void to_float(float (&f)[8]) const {
    const T* h = reinterpret_cast<const T*>(&r);
#pragma unroll
    for (int e = 0; e < 8; e++) f[e] = to_f(h[e]);
  }
};
template <> struct Raw8<float> {
  float4 a, b;
  __device__ void load(const float* p) { a = reinterpret_cast<const float4*>(p)[0]; b = reinterpret_cast<const float4*>(p)[1]; }
  __device__ void zero() { a = b = make_float4(0.f, 0.f, 0.f, 0.f); }
  __device__ void to_float(float (&f)[8]) const {
    f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
  }
};

// t / block_size by a multiply and a shift: the loop computes it twice per token (K and V are loaded at different
// points), and an integer division by a run-time value costs ~25 instructions (with it the kernel is ~12% slower at
// 64 sequences on an H100). 2^32 + mul = ⌊2^(32+shift)/d⌋ + 1 with 2^shift ≥ d is exact for every t < 2^31
// (Granlund–Montgomery); mul and shift stay in the kernel's parameter (constant) bank, taking no registers.
struct BlockDiv {
  int d;
  uint32_t mul;
  int shift;
  static BlockDiv of(int d) {
    int s = 0;
    while ((1ll << s) < d) s++;
    return {d, (uint32_t)((((1ull << s) - d) << 32) / d + 1), s};
  }
  __device__ int div(int t) const { return (int)((__umulhi((uint32_t)t, mul) + (uint32_t)t) >> shift); }
};

// Starts the loads of one of K or V for the team's U tokens base + u·teams + team. Tokens past chunk_end and lanes past
// head_dim get zeros: their dot products still enter the team's shuffles, and p = 0 must not meet a NaN. With Rope the
// step's token (`newest`, −1 in blocks whose range lacks it) comes from the block's shared copy (`fresh`, this lane's 8
// elements of it). (A function rather than a lambda in the kernel: the lambda compiles to more instructions and runs
// ~1.5% slower.)
template <typename T, int U, bool Rope>
__device__ inline void fetch_rows(Raw8<T> (&r)[U], const T* __restrict__ cache, const int32_t* sm_table, int base,
                                  int chunk_end, int first_block, int team, int teams, BlockDiv bdiv, int64_t slot_stride,
                                  int64_t head_off, bool active, const T* fresh, int newest) {
#pragma unroll
  for (int u = 0; u < U; u++) {
    const int t = base + u * teams + team;
    if (t < chunk_end && active) {
      if (Rope && t == newest) {
        r[u].load(fresh);
      } else {
        const int blk = bdiv.div(t);
        r[u].load(cache + ((int64_t)sm_table[blk - first_block] * bdiv.d + (t - blk * bdiv.d)) * slot_stride + head_off);
      }
    } else {
      r[u].zero();
    }
  }
}

// The splits of one sequence's head group, a thread-block cluster (rank = split), merged through distributed shared
// memory instead of the workspace and combine_splits_kernel, with the same arithmetic in the same order (so the same
// bits): each block has its heads' o [nh][D] (sm_acc), m and l; after the cluster barrier, block r combines the
// elements r·blockDim + tid, + splits·blockDim, ... of the nh·D outputs from every block's copies. The second barrier
// keeps each block's shared memory alive until the others have read it.
template <typename T>
__device__ inline void combine_cluster(T* __restrict__ out, float* sm_acc, float* sm_m, float* sm_l, int b, int h0, int nh, int head_dim,
                                       int split, int splits, int64_t out_stride_b) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(SIMT_EMULATOR)
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();
  for (int i = split * blockDim.x + threadIdx.x; i < nh * head_dim; i += splits * blockDim.x) {
    const int g = i / head_dim, d = i % head_dim;
    float gm = -FLT_MAX;
    for (int s = 0; s < splits; s++) gm = fmaxf(gm, *cluster.map_shared_rank(sm_m + g, s));
    float gl = 0.f, o = 0.f;
    for (int s = 0; s < splits; s++) {
      const float f = __expf(*cluster.map_shared_rank(sm_m + g, s) - gm);
      gl += *cluster.map_shared_rank(sm_l + g, s) * f;
      o += *cluster.map_shared_rank(sm_acc + i, s) * f;
    }
    out[b * out_stride_b + (int64_t)(h0 + g) * head_dim + d] = from_f<T>(o / gl);
  }
  cluster.sync();
#else
  __trap();  // launched only on compute capability 9.0+
#endif
}

template <typename T, int NH, bool Rope, bool Cluster>
// At most 128 registers for groups up to 4 (Llama-3: 64 sequences × 8 KV heads fill one wave of 4 blocks per SM);
// larger groups need the registers.
__global__ void __launch_bounds__(kWarps * 32, NH <= 4 ? 4 : 2)
paged_decode_kernel(T* __restrict__ out, float* __restrict__ partial, const T* __restrict__ q, const T* __restrict__ k_cache,
                    const T* __restrict__ v_cache, const int32_t* __restrict__ tables, const int32_t* __restrict__ lens,
                    int heads, int kv_heads, int head_dim, int lanes_log2, BlockDiv bdiv, int max_blocks, int window,
                    float scale, int64_t q_stride_b, int64_t out_stride_b, PagedRope rope) {
  pdl_start();
  extern __shared__ float smem[];  // [kWarps][nh][head_dim] accumulators, then [kWarps][NH] m and l
  constexpr int U = kUnroll<T>;
  const int block_size = bdiv.d;
  // Grid (B, KV·sub_groups, splits), or with Cluster (splits, KV·sub_groups, B) in clusters of the splits.
  const int b = Cluster ? blockIdx.z : blockIdx.x, split = Cluster ? blockIdx.x : blockIdx.z, splits = Cluster ? gridDim.x : gridDim.z;
  const int group = heads / kv_heads, sub_groups = (group + kMaxGroup - 1) / kMaxGroup;
  const int kvh = blockIdx.y / sub_groups, h0 = kvh * group + (blockIdx.y % sub_groups) * kMaxGroup;
  const int nh = min(kMaxGroup, kvh * group + group - h0);
  const int L = 1 << lanes_log2, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int d0 = (lane & (L - 1)) * 8;
  const bool active = d0 < head_dim;
  const int teams = kWarps * 32 / L;
  const int team = warp * (32 / L) + lane / L;

  const int ctx = lens[b];
  const int first = (window > 0 && ctx > window) ? ctx - window : 0;
  const int per_split = (ctx - first + splits - 1) / splits;
  const int t_begin = first + split * per_split, t_end = min(ctx, t_begin + per_split);

  const int64_t slot_stride = (int64_t)kv_heads * head_dim, head_off = (int64_t)kvh * head_dim + d0;
  const T* q_row = q + b * q_stride_b;
  // The queries (scaled) live in shared memory: registers go to keeping U tokens' loads in flight per team. With Rope
  // they are rotated here, rounded to T as the rotary kernel stores them.
  __shared__ float sm_q[NH][kMaxHeadDim];
  const float *cos_row = nullptr, *sin_row = nullptr;
  if constexpr (Rope) {
    cos_row = rope.cos + rope.positions[b] * head_dim;
    sin_row = rope.sin + rope.positions[b] * head_dim;
  }
  for (int i = threadIdx.x; i < NH * head_dim; i += blockDim.x) {
    const int g = i / head_dim, d = i % head_dim;
    const T* head = q_row + (int64_t)(h0 + g) * head_dim;
    const float x = g >= nh ? 0.f : Rope ? to_f(from_f<T>(rope_element(head, d, head_dim / 2, cos_row, sin_row))) : to_f(head[d]);
    sm_q[g][d] = x * scale;
  }
  // With Rope, the step's key (rotated) and value [2][D]: stored to the caches by the block whose range holds the token,
  // and read from here by its fetches. The cache rows it writes are never read back by this kernel, so the read-only
  // loads of the others stay valid.
  __shared__ __align__(16) T sm_fresh[Rope ? 2 : 1][Rope ? kMaxHeadDim : 8];
  const T* k_fresh = sm_fresh[0] + (Rope ? d0 : 0);  // this lane's 8 elements of each (read only with Rope)
  const T* v_fresh = sm_fresh[Rope ? 1 : 0] + (Rope ? d0 : 0);
  int newest = -1;
  if (Rope && t_begin <= ctx - 1 && ctx - 1 < t_end) {
    newest = ctx - 1;
    const int64_t at = rope.slots[b] * slot_stride + (int64_t)kvh * head_dim;
    const T* k_new = q_row + (int64_t)(heads + kvh) * head_dim;
    const T* v_new = q_row + (int64_t)(heads + kv_heads + kvh) * head_dim;
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
      const T kd = from_f<T>(rope_element(k_new, d, head_dim / 2, cos_row, sin_row)), vd = v_new[d];
      sm_fresh[0][d] = kd;
      sm_fresh[1][d] = vd;
      const_cast<T*>(k_cache)[at + d] = kd;
      const_cast<T*>(v_cache)[at + d] = vd;
    }
  }
  float acc[NH][8], m[NH], l[NH];
#pragma unroll
  for (int g = 0; g < NH; g++) {
#pragma unroll
    for (int e = 0; e < 8; e++) acc[g][e] = 0.f;
    m[g] = -FLT_MAX;
    l[g] = 0.f;
  }

  const int32_t* table = tables + (int64_t)b * max_blocks;
  // The range's block-table entries are staged in shared memory, kTableChunk at a time, so a token's K/V loads wait
  // on no other global load. Every lane of a warp runs the same iterations (the shuffles need them all).
  __shared__ int32_t sm_table[kTableChunk];
  for (int chunk = t_begin; chunk < t_end; chunk += kTableChunk * block_size) {
    const int chunk_end = min(t_end, chunk + kTableChunk * block_size), first_block = chunk / block_size;
    __syncthreads();
    for (int i = threadIdx.x; i <= (chunk_end - 1) / block_size - first_block; i += blockDim.x) sm_table[i] = table[first_block + i];
    __syncthreads();
    // One register set per K and V, refilled as soon as a step is done with it, so each load overlaps the rest of the
    // step's math (K: the shuffles, softmax and accumulation; V: the next dot products and shuffles). A second set
    // (the next step's rows beside the current ones) spills at U = 4, and at U = 2 keeps half as many rows in flight:
    // slower on an H100 either way. The pipeline restarts at each table chunk (the last step of one fetches nothing).
    Raw8<T> kr[U], vr[U];
    fetch_rows<T, U, Rope>(kr, k_cache, sm_table, chunk, chunk_end, first_block, team, teams, bdiv, slot_stride, head_off, active,
                           k_fresh, newest);
    fetch_rows<T, U, Rope>(vr, v_cache, sm_table, chunk, chunk_end, first_block, team, teams, bdiv, slot_stride, head_off, active,
                           v_fresh, newest);
    for (int base = chunk; base < chunk_end; base += U * teams) {
      bool valid[U];
#pragma unroll
      for (int u = 0; u < U; u++) valid[u] = base + u * teams + team < chunk_end;
      // All dot products first (independent shuffle chains), then one softmax update per head for the U tokens.
      float sc[U][NH];
#pragma unroll
      for (int g = 0; g < NH; g++) {
        float qg[8];
        const float4 a = *reinterpret_cast<const float4*>(&sm_q[g][d0]), c = *reinterpret_cast<const float4*>(&sm_q[g][d0 + 4]);
        qg[0] = a.x; qg[1] = a.y; qg[2] = a.z; qg[3] = a.w; qg[4] = c.x; qg[5] = c.y; qg[6] = c.z; qg[7] = c.w;
#pragma unroll
        for (int u = 0; u < U; u++) {
          float kf[8];
          kr[u].to_float(kf);
          float d = 0.f;
#pragma unroll
          for (int e = 0; e < 8; e++) d += qg[e] * kf[e];
          sc[u][g] = d;
        }
      }
      fetch_rows<T, U, Rope>(kr, k_cache, sm_table, base + U * teams, chunk_end, first_block, team, teams, bdiv, slot_stride,
                             head_off, active, k_fresh, newest);
      for (int o = L / 2; o > 0; o >>= 1)
#pragma unroll
        for (int u = 0; u < U; u++)
#pragma unroll
          for (int g = 0; g < NH; g++) sc[u][g] += __shfl_xor_sync(0xffffffffu, sc[u][g], o);
#pragma unroll
      for (int g = 0; g < NH; g++) {
        if (g >= nh) continue;
        float mn = m[g];
#pragma unroll
        for (int u = 0; u < U; u++) if (valid[u]) mn = fmaxf(mn, sc[u][g]);
        const float c = __expf(m[g] - mn);
        float p[U], ps = 0.f;
#pragma unroll
        for (int u = 0; u < U; u++) { p[u] = valid[u] ? __expf(sc[u][g] - mn) : 0.f; ps += p[u]; }
        l[g] = l[g] * c + ps;
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] *= c;
#pragma unroll
        for (int u = 0; u < U; u++) {
          float vf[8];
          vr[u].to_float(vf);
#pragma unroll
          for (int e = 0; e < 8; e++) acc[g][e] += p[u] * vf[e];
        }
        m[g] = mn;
      }
      fetch_rows<T, U, Rope>(vr, v_cache, sm_table, base + U * teams, chunk_end, first_block, team, teams, bdiv, slot_stride,
                             head_off, active, v_fresh, newest);
    }
  }

  // Merge the warp's teams (lanes L, 2L, ... apart), then the warps through shared memory.
#pragma unroll
  for (int g = 0; g < NH; g++) {
    if (g >= nh) continue;
    for (int o = L; o < 32; o <<= 1) {
      float acc2[8];
#pragma unroll
      for (int e = 0; e < 8; e++) acc2[e] = __shfl_xor_sync(0xffffffffu, acc[g][e], o);
      const float m2 = __shfl_xor_sync(0xffffffffu, m[g], o), l2 = __shfl_xor_sync(0xffffffffu, l[g], o);
      merge(m[g], l[g], acc[g], m2, l2, acc2);
    }
  }
  __shared__ float sm_split_m[Cluster ? NH : 1];  // the block's m and l per head (Cluster)
  __shared__ float sm_split_l[Cluster ? NH : 1];
  float* sm_acc = smem;                                        // [kWarps][nh][head_dim]
  float* sm_m = smem + kWarps * nh * head_dim;                 // [kWarps][NH]
  float* sm_l = sm_m + kWarps * NH;
  if (lane < L) {
#pragma unroll
    for (int g = 0; g < NH; g++) {
      if (g >= nh) continue;
      if (active)
#pragma unroll
        for (int e = 0; e < 8; e++) sm_acc[(warp * nh + g) * head_dim + d0 + e] = acc[g][e];
      if (lane == 0) { sm_m[warp * NH + g] = m[g]; sm_l[warp * NH + g] = l[g]; }
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < nh * head_dim; i += blockDim.x) {
    const int g = i / head_dim, d = i % head_dim;
    float gm = -FLT_MAX;
    for (int w = 0; w < kWarps; w++) gm = fmaxf(gm, sm_m[w * NH + g]);
    float gl = 0.f, o = 0.f;
    for (int w = 0; w < kWarps; w++) {
      const float f = __expf(sm_m[w * NH + g] - gm);
      gl += sm_l[w * NH + g] * f;
      o += sm_acc[(w * nh + g) * head_dim + d] * f;
    }
    const int h = h0 + g;
    if constexpr (Cluster) {  // the split's result stays in shared memory: o in warp 0's slot, which only this thread reads
      sm_acc[g * head_dim + d] = o;
      if (d == 0) { sm_split_m[g] = gm; sm_split_l[g] = gl; }
    } else if (splits == 1) {
      out[b * out_stride_b + (int64_t)h * head_dim + d] = from_f<T>(o / gl);
    } else {  // partial [B, H, splits, head_dim + 2]: accumulator, then m and l
      float* p = partial + (((int64_t)b * heads + h) * splits + split) * (head_dim + 2);
      p[d] = o;
      if (d == 0) { p[head_dim] = gm; p[head_dim + 1] = gl; }
    }
  }
  if constexpr (Cluster) combine_cluster(out, sm_acc, sm_split_m, sm_split_l, b, h0, nh, head_dim, split, splits, out_stride_b);
}

// Grid (B, H); combines the splits' partial softmaxes of one head.
template <typename T>
__global__ void combine_splits_kernel(T* __restrict__ out, const float* __restrict__ partial, int heads, int head_dim,
                                      int splits, int64_t out_stride_b) {
  pdl_start();
  const int b = blockIdx.x, h = blockIdx.y;
  const float* p = partial + ((int64_t)b * heads + h) * splits * (head_dim + 2);
  float gm = -FLT_MAX;
  for (int s = 0; s < splits; s++) gm = fmaxf(gm, p[s * (head_dim + 2) + head_dim]);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float gl = 0.f, o = 0.f;
    for (int s = 0; s < splits; s++) {
      const float* ps = p + s * (head_dim + 2);
      const float f = __expf(ps[head_dim] - gm);
      gl += ps[head_dim + 1] * f;
      o += ps[d] * f;
    }
    out[b * out_stride_b + (int64_t)h * head_dim + d] = from_f<T>(o / gl);
  }
}

int lanes_log2_for(int head_dim) {
  int lg = 0;
  while ((1 << lg) * 8 < head_dim) lg++;
  return lg;
}

template <typename T, int NH, bool Rope, bool Cluster>
cudaError_t launch_group(dim3 grid, int smem, cudaStream_t stream, T* out, float* partial, const T* q, const T* k, const T* v,
                         const int32_t* tables, const int32_t* lens, int heads, int kv_heads, int head_dim, int block_size,
                         int max_blocks, int window, float scale, int64_t q_stride_b, int64_t out_stride_b, PagedRope rope) {
  constexpr auto kernel = paged_decode_kernel<T, NH, Rope, Cluster>;
  // The most any launch of this NH asks for (PagedDecode::run reserves m and l for kMaxGroup heads).
  if (auto err = allow_dynamic_smem<kernel>(kWarps * (NH * kMaxHeadDim + 2 * kMaxGroup) * 4); err != cudaSuccess) return err;
  if (Cluster && grid.z > 8)
    if (auto err = allow_large_clusters<kernel>(); err != cudaSuccess) return err;
  const dim3 shape = Cluster ? dim3(grid.z, grid.y, grid.x) : grid;
  launch_pdl_cluster(kernel, shape, dim3(kWarps * 32), smem, stream, Cluster ? (int)grid.z : 1, out, partial, q, k, v, tables, lens,
                     heads, kv_heads, head_dim, lanes_log2_for(head_dim), BlockDiv::of(block_size), max_blocks, window, scale,
                     q_stride_b, out_stride_b, rope);
  return cudaGetLastError();
}

template <typename T> struct PagedDecode {
  static cudaError_t run(void* out_, float* partial, const void* q_, void* k_, void* v_, const int32_t* tables,
                         const int32_t* lens, int batch, int heads, int kv_heads, int head_dim, int block_size, int max_blocks,
                         int window, float scale, int64_t q_stride_b, int64_t out_stride_b, int splits, bool cluster,
                         const PagedRope* rope, cudaStream_t stream) {
    T* out = static_cast<T*>(out_);
    const T *q = static_cast<const T*>(q_), *k = static_cast<const T*>(k_), *v = static_cast<const T*>(v_);
    const int group = heads / kv_heads, sub_groups = (group + kMaxGroup - 1) / kMaxGroup;
    const int nh = group < kMaxGroup ? group : kMaxGroup;
    const int smem = kWarps * (nh * head_dim + 2 * kMaxGroup) * (int)sizeof(float);
    const dim3 grid(batch, kv_heads * sub_groups, splits);
    const PagedRope r = rope ? *rope : PagedRope{};
    cluster = cluster && splits > 1;
    auto launch = [&](auto nh_tag, auto rope_tag, auto cluster_tag) {
      return launch_group<T, decltype(nh_tag)::value, decltype(rope_tag)::value, decltype(cluster_tag)::value>(
          grid, smem, stream, out, partial, q, k, v, tables, lens, heads, kv_heads, head_dim, block_size, max_blocks, window, scale,
          q_stride_b, out_stride_b, r);
    };
    auto with_flags = [&](auto nh_tag) {
      using On = std::true_type;
      using Off = std::false_type;
      return rope ? (cluster ? launch(nh_tag, On{}, On{}) : launch(nh_tag, On{}, Off{}))
                  : (cluster ? launch(nh_tag, Off{}, On{}) : launch(nh_tag, Off{}, Off{}));
    };
    const cudaError_t err = nh == 1   ? with_flags(std::integral_constant<int, 1>{})
                            : nh == 2 ? with_flags(std::integral_constant<int, 2>{})
                            : nh <= 4 ? with_flags(std::integral_constant<int, 4>{})
                                      : with_flags(std::integral_constant<int, 8>{});
    if (err != cudaSuccess || splits == 1 || cluster) return err;
    launch_pdl(combine_splits_kernel<T>, dim3(batch, heads), dim3(head_dim < 128 ? head_dim : 128), 0, stream, out, partial, heads, head_dim, splits, out_stride_b);
    return cudaGetLastError();
  }
};

}  // namespace

bool paged_decode_cluster_enabled() {
  static const bool on = !env_switched_off("INFERENCE_PAGED_CLUSTER_COMBINE") && device_cc_major() >= 9;
  return on;
}

int paged_decode_cluster_splits() {
  static const int n = [] {
    const int v = env_int("INFERENCE_PAGED_CLUSTER_SPLITS");
    return v >= 2 && v <= kMaxClusterSplits ? v : kMaxClusterSplits;
  }();
  return n;
}

int paged_decode_splits(int batch, int kv_heads, int heads, int max_context, int num_sms, int max_splits) {
  const int group = heads / kv_heads, blocks = batch * kv_heads * ((group + kMaxGroup - 1) / kMaxGroup);
  int splits = (2 * num_sms + blocks - 1) / blocks;             // about two blocks per SM
  const int by_context = (max_context + 63) / 64;               // each split worth at least 64 tokens
  if (splits > by_context) splits = by_context;
  if (splits > max_splits) splits = max_splits;
  return splits < 1 ? 1 : splits;
}

cudaError_t launch_paged_decode_attention(int dtype, void* out, float* workspace, const void* q, void* k_cache, void* v_cache,
                                          const int32_t* tables, const int32_t* lens, int batch, int heads, int kv_heads,
                                          int head_dim, int block_size, int max_blocks, int window, float scale, int64_t q_stride_b,
                                          int64_t out_stride_b, int splits, bool cluster, const PagedRope* rope,
                                          cudaStream_t stream) {
  if (head_dim > 256 || head_dim % 8 != 0 || heads % kv_heads != 0 || splits > kMaxSplits || (cluster && splits > kMaxClusterSplits) ||
      (splits > 1 && !cluster && workspace == nullptr))
    return cudaErrorInvalidValue;
  return dispatch_dtype<PagedDecode>(dtype, out, workspace, q, k_cache, v_cache, tables, lens, batch, heads, kv_heads, head_dim,
                                     block_size, max_blocks, window, scale, q_stride_b, out_stride_b, splits, cluster, rope, stream);
}
