// Paged decode attention (paged_attention.cu): one query token per sequence against its KV blocks, scattered over a
// shuffled block pool, with grouped-query heads, a sliding window and the context split over blocks.
#include <algorithm>
#include <numeric>
#include "check_support.h"
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
  if (splits == 0) splits = paged_decode_splits(B, KV, H, max_context, 132);
  Buffer<float> ws(splits > 1 ? (size_t)B * H * splits * (D + 2) : 0);
  const float scale = 1.f / std::sqrt((float)D);
  const cudaError_t err = launch_paged_decode_attention(t.code, out.mem.p, splits > 1 ? ws.p : nullptr, q.p, k.p, v.p, tables.p, lens.p, B, H,
                                                        KV, D, bs, max_blocks, window, scale, qs, out.stride, splits, nullptr);
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

}  // namespace checks
