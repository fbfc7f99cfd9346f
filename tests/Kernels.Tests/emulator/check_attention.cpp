// Paged decode attention (paged_attention.cu): one query token per sequence against its KV blocks, scattered over a
// shuffled block pool, with grouped-query heads, a sliding window and the context split over blocks; and the variants
// that rotate q and the step's key and write the cache themselves (PagedRope) or merge their splits in a thread-block
// cluster, against the rotary kernel, then attention with the workspace and the combine kernel.
#include <algorithm>
#include <numeric>
#include "check_support.h"
#include "fused_ops.h"
#include "paged_attention.h"

namespace checks {

// kernel-checks attention DTYPE B H KV D BLOCK_SIZE MAX_CONTEXT WINDOW SPLITS (SPLITS 0: the launcher's choice for 132
// SMs). Sequence 0 has MAX_CONTEXT tokens, the others random lengths from 1.
int attention(int argc, char** argv) {
  if (argc != 11) usage("attention takes 9 arguments");
  const Dtype t = parse_dtype(argv[2]);
  const int B = to_int(argv[3]), H = to_int(argv[4]), KV = to_int(argv[5]), D = to_int(argv[6]), bs = to_int(argv[7]);
  const int max_context = to_int(argv[8]), window = to_int(argv[9]);
  int splits = to_int(argv[10]);
  if (B < 1 || KV < 1 || H % KV != 0 || bs < 1 || max_context < 1) usage("attention: bad shape");
  const int max_blocks = (max_context + bs - 1) / bs, pool = B * max_blocks + 3;
  std::vector<int> order(pool);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng());
  Buffer<int32_t> tables((size_t)B * max_blocks), lens(B);
  for (int b = 0; b < B; b++) lens[b] = b == 0 ? max_context : 1 + (int)(rng()() % (unsigned)max_context);
  for (size_t i = 0; i < tables.count; i++) tables[i] = order[i];
  const size_t row = (size_t)KV * D, slots = (size_t)pool * bs;
  Buffer<uint8_t> k(slots * row * t.bytes()), v(slots * row * t.bytes());
  std::vector<float> kf(slots * row), vf(slots * row);
  for (size_t i = 0; i < kf.size(); i++) t.store(k.p, i, kf[i] = t.round(normal()));
  for (size_t i = 0; i < vf.size(); i++) t.store(v.p, i, vf[i] = t.round(normal()));
  const int64_t qs = (int64_t)H * D + 8;  // q and out rows 16-byte aligned, strided
  Buffer<uint8_t> q((size_t)B * qs * t.bytes());
  std::vector<float> qf((size_t)B * qs);
  for (size_t i = 0; i < qf.size(); i++) t.store(q.p, i, qf[i] = t.round(normal()));
  Output out(t, B, H * D, 8);
  if (splits == 0) splits = paged_decode_splits(B, KV, H, max_context, 132, kMaxSplits);
  Buffer<float> ws(splits > 1 ? (size_t)B * H * splits * (D + 2) : 0);
  const float scale = 1.f / std::sqrt((float)D);
  const cudaError_t err = launch_paged_decode_attention(t.code, out.mem.p, splits > 1 ? ws.p : nullptr, q.p, k.p, v.p, tables.p, lens.p, B, H,
                                                        KV, D, bs, max_blocks, window, scale, qs, out.stride, splits, false, nullptr,
                                                        nullptr);
  // softmax(scale · q·kᵀ) · v over the attended positions, in double. Bound: float sums over the context and the head
  // dimension (exp-weighted values up to max|v|), then the output's rounding.
  std::vector<double> ref((size_t)B * H * D), bound(ref.size());
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      const int kvh = h / (H / KV), L = lens[b], start = window > 0 ? std::max(0, L - window) : 0;
      std::vector<double> s(L - start);
      double m = -INFINITY, vmax = 0;
      for (int p = start; p < L; p++) {
        const size_t slot = (size_t)tables[(size_t)b * max_blocks + p / bs] * bs + p % bs;
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)qf[(size_t)b * qs + (size_t)h * D + d] * kf[slot * row + (size_t)kvh * D + d];
        s[p - start] = dot * scale;
        m = std::max(m, s[p - start]);
      }
      double l = 0;
      for (auto& e : s) l += (e = std::exp(e - m));
      for (int d = 0; d < D; d++) {
        double acc = 0;
        for (int p = start; p < L; p++) {
          const size_t slot = (size_t)tables[(size_t)b * max_blocks + p / bs] * bs + p % bs;
          const double vv = vf[slot * row + (size_t)kvh * D + d];
          acc += s[p - start] * vv;
          vmax = std::max(vmax, std::fabs(vv));
        }
        const size_t at = ((size_t)b * H + h) * D + d;
        ref[at] = acc / l;
        bound[at] = t.output_bound(ref[at], 8 * accumulation(L - start + D) * vmax);
      }
    }
  return report("paged decode attention", out, ref, bound, err);
}

// kernel-checks attention-fused DTYPE B H KV D BLOCK_SIZE MAX_CONTEXT WINDOW SPLITS ROW_PAD ROPE CLUSTER: a decode
// step's unrotated qkv [B, (H + 2·KV)·D + ROW_PAD], lengths as in `attention`, positions lens − 1 and slots those of
// the last token in the block tables (whose cache rows start as garbage). Reference: launch_rotary_qk_cache on a copy
// of qkv, then the kernel on the rotated q with the workspace and the combine kernel. The kernel with PagedRope (ROPE
// 1, on qkv itself) or on the reference's rotated copy (ROPE 0), in clusters of its splits (CLUSTER 1) or not, must
// equal it bit for bit: the outputs, both caches in full (the step's rows written, nothing else touched), and with
// ROPE, qkv left as it was. SPLITS 0: the launcher's choice for 132 SMs (at most kMaxClusterSplits with CLUSTER).
int attention_fused(int argc, char** argv) {
  if (argc != 14) usage("attention-fused takes 12 arguments");
  const Dtype t = parse_dtype(argv[2]);
  const int B = to_int(argv[3]), H = to_int(argv[4]), KV = to_int(argv[5]), D = to_int(argv[6]), bs = to_int(argv[7]);
  const int max_context = to_int(argv[8]), window = to_int(argv[9]), pad = to_int(argv[11]);
  const bool with_rope = to_int(argv[12]) != 0, cluster = to_int(argv[13]) != 0;
  int splits = to_int(argv[10]);
  if (B < 1 || KV < 1 || H % KV != 0 || bs < 1 || max_context < 1 || pad % 8 != 0) usage("attention-fused: bad shape");
  const int max_blocks = (max_context + bs - 1) / bs, pool = B * max_blocks + 3, max_pos = max_context + 5;
  std::vector<int> order(pool);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng());
  Buffer<int32_t> tables((size_t)B * max_blocks), lens(B);
  Buffer<int64_t> positions(B), slots(B);
  for (size_t i = 0; i < tables.count; i++) tables[i] = order[i];
  for (int b = 0; b < B; b++) {
    lens[b] = b == 0 ? max_context : 1 + (int)(rng()() % (unsigned)max_context);
    positions[b] = lens[b] - 1;
    slots[b] = (int64_t)tables[(size_t)b * max_blocks + (lens[b] - 1) / bs] * bs + (lens[b] - 1) % bs;
  }
  Buffer<float> cos_t((size_t)max_pos * D), sin_t((size_t)max_pos * D);
  for (int p = 0; p < max_pos; p++)
    for (int i = 0; i < D; i++) {
      const double f = p * std::pow(10000.0, -2.0 * (i % (D / 2)) / D);
      cos_t[(size_t)p * D + i] = (float)std::cos(f);
      sin_t[(size_t)p * D + i] = (float)std::sin(f);
    }
  const size_t cache_bytes = (size_t)pool * bs * KV * D * t.bytes();
  Buffer<uint8_t> k(cache_bytes), v(cache_bytes), k_ref(cache_bytes), v_ref(cache_bytes);
  for (size_t i = 0; i < cache_bytes / t.bytes(); i++) {
    t.store(k.p, i, normal());
    t.store(v.p, i, normal());
  }
  for (int b = 0; b < B; b++)  // the step's rows hold garbage (huge values) until the step writes them
    for (int e = 0; e < KV * D; e++) {
      t.store(k.p, (size_t)slots[b] * KV * D + e, 1e4f);
      t.store(v.p, (size_t)slots[b] * KV * D + e, -1e4f);
    }
  std::memcpy(k_ref.p, k.p, cache_bytes);
  std::memcpy(v_ref.p, v.p, cache_bytes);
  const int64_t qs = (int64_t)(H + 2 * KV) * D + pad;
  const size_t qkv_bytes = (size_t)B * qs * t.bytes();
  Buffer<uint8_t> qkv(qkv_bytes), qkv_ref(qkv_bytes), qkv_before(qkv_bytes);
  for (size_t i = 0; i < qkv_bytes / t.bytes(); i++) t.store(qkv.p, i, 2 * normal());
  std::memcpy(qkv_ref.p, qkv.p, qkv_bytes);
  std::memcpy(qkv_before.p, qkv.p, qkv_bytes);
  Output out(t, B, H * D, 8), ref(t, B, H * D, 8);
  if (splits == 0) splits = paged_decode_splits(B, KV, H, max_context, 132, cluster ? kMaxClusterSplits : kMaxSplits);
  Buffer<float> ws(splits > 1 ? (size_t)B * H * splits * (D + 2) : 0);
  const float scale = 1.f / std::sqrt((float)D);
  cudaError_t err = launch_rotary_qk_cache(t.code, qkv_ref.p, positions.p, cos_t.p, sin_t.p, B, H, KV, D, qs, k_ref.p, v_ref.p, slots.p, nullptr);
  if (err == cudaSuccess)
    err = launch_paged_decode_attention(t.code, ref.mem.p, splits > 1 ? ws.p : nullptr, qkv_ref.p, k_ref.p, v_ref.p, tables.p, lens.p, B, H,
                                        KV, D, bs, max_blocks, window, scale, qs, ref.stride, splits, false, nullptr, nullptr);
  if (err == cudaSuccess && !with_rope) {  // the variant reads the reference's rotated q and caches
    std::memcpy(qkv.p, qkv_ref.p, qkv_bytes);
    std::memcpy(k.p, k_ref.p, cache_bytes);
    std::memcpy(v.p, v_ref.p, cache_bytes);
  }
  const PagedRope rope{positions.p, cos_t.p, sin_t.p, slots.p};
  if (err == cudaSuccess)
    err = launch_paged_decode_attention(t.code, out.mem.p, splits > 1 && !cluster ? ws.p : nullptr, qkv.p, k.p, v.p, tables.p, lens.p, B, H,
                                        KV, D, bs, max_blocks, window, scale, qs, out.stride, splits, cluster, with_rope ? &rope : nullptr,
                                        nullptr);
  if (err != cudaSuccess) {
    std::printf("FAIL attention-fused: launch returned %d\n", (int)err);
    return 1;
  }
  int bad = 0;
  for (int b = 0; b < B; b++)
    for (int i = 0; i < H * D; i++)
      if (std::memcmp(out.mem.p + ((size_t)b * out.stride + i) * t.bytes(), ref.mem.p + ((size_t)b * ref.stride + i) * t.bytes(), t.bytes()) != 0 &&
          bad++ < 5)
        std::printf("  output differs at row %d, element %d: %g vs %g\n", b, i, out.at(b, i), ref.at(b, i));
  if (std::memcmp(k.p, k_ref.p, cache_bytes) != 0) bad++, std::printf("  key cache differs\n");
  if (std::memcmp(v.p, v_ref.p, cache_bytes) != 0) bad++, std::printf("  value cache differs\n");
  if (with_rope && std::memcmp(qkv.p, qkv_before.p, qkv_bytes) != 0) bad++, std::printf("  qkv was modified\n");
  if (!out.padding_intact()) bad++, std::printf("  output padding overwritten\n");
  std::printf("%s attention-fused: %d mismatches (splits %d)\n", bad ? "FAIL" : "ok", bad, splits);
  return bad ? 1 : 0;
}

}  // namespace checks
