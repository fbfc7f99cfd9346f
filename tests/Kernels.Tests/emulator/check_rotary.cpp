// The rotary embedding with the paged KV-cache write (fused_ops.cu, launch_rotary_qk_cache): in place on the q and k
// heads of qkv [T, stride], HF's "rotate half" (q·cos + rotate_half(q)·sin with cos/sin [max_pos, D] the concatenated
// frequency tables), and the step's rotated keys and its values stored at their cache slots.
//
// Reference: r1 = x1·cos[i] − x2·sin[i], r2 = x2·cos[i + D/2] + x1·sin[i + D/2] in double, stored to the dtype. The
// kernel computes in float (two products and a sum, fused or not): within 3·2⁻²⁴·(|x1·c| + |x2·s|) before the store.
// Exact: the V part of qkv and the padding past it untouched, the key cache equal to the rotated keys as stored in qkv,
// the value cache equal to the values, and every slot not written still holding its sentinel.
#include <algorithm>
#include <numeric>
#include "check_support.h"
#include "fused_ops.h"

namespace checks {

// kernel-checks rotary DTYPE TOKENS HEADS KV_HEADS HEAD_DIM ROW_PAD (qkv rows are (HEADS + 2·KV_HEADS)·HEAD_DIM +
// ROW_PAD elements apart; a pad that is not a multiple of 8, or HEAD_DIM % 16 ≠ 0, takes the scalar kernel).
int rotary(int argc, char** argv) {
  if (argc != 8) usage("rotary takes 6 arguments");
  const Dtype t = parse_dtype(argv[2]);
  const int T = to_int(argv[3]), H = to_int(argv[4]), KV = to_int(argv[5]), D = to_int(argv[6]), pad = to_int(argv[7]);
  if (T < 1 || H < 1 || KV < 1 || D < 2 || D % 2 != 0) usage("rotary: bad shape");
  const int width = (H + 2 * KV) * D, half = D / 2, max_pos = 4 * T + 7, num_slots = 2 * T + 5;
  const int64_t stride = width + pad;

  // HF's tables: inv_freq[i] = θ^(−2i/D), freqs = pos·inv_freq, cos/sin of cat(freqs, freqs).
  Buffer<float> cos_t((size_t)max_pos * D), sin_t((size_t)max_pos * D);
  for (int p = 0; p < max_pos; p++)
    for (int i = 0; i < D; i++) {
      const double f = p * std::pow(10000.0, -2.0 * (i % half) / D);
      cos_t[(size_t)p * D + i] = (float)std::cos(f);
      sin_t[(size_t)p * D + i] = (float)std::sin(f);
    }
  Buffer<int64_t> pos(T), slots(T);
  std::vector<int64_t> slot_order(num_slots);
  std::iota(slot_order.begin(), slot_order.end(), 0);
  std::shuffle(slot_order.begin(), slot_order.end(), rng());
  for (int i = 0; i < T; i++) {
    pos[i] = (int64_t)(rng()() % (unsigned)max_pos);
    slots[i] = slot_order[i];
  }

  Buffer<uint8_t> qkv((size_t)T * stride * t.bytes());
  std::vector<float> before((size_t)T * stride);
  for (size_t i = 0; i < before.size(); i++) t.store(qkv.p, i, before[i] = t.round(normal() * 2));
  const size_t cache_bytes = (size_t)num_slots * KV * D * t.bytes();
  Buffer<uint8_t> k_cache(cache_bytes), v_cache(cache_bytes);
  std::memset(k_cache.p, Output::kSentinel, cache_bytes);
  std::memset(v_cache.p, Output::kSentinel, cache_bytes);

  const cudaError_t err = launch_rotary_qk_cache(t.code, qkv.p, pos.p, cos_t.p, sin_t.p, T, H, KV, D, stride, k_cache.p, v_cache.p,
                                                 slots.p, nullptr);
  if (err != cudaSuccess) {
    std::printf("FAIL rotary: launch returned %d\n", (int)err);
    return 1;
  }

  int bad = 0;
  double worst = 0;
  auto fail = [&](const char* what, int tok, int i) {
    if (bad++ < 5) std::printf("  %s at token %d, element %d\n", what, tok, i);
  };
  std::vector<bool> written(num_slots);
  for (int tok = 0; tok < T; tok++) {
    const float* x = &before[(size_t)tok * stride];
    const float* c = &cos_t[(size_t)pos[tok] * D];
    const float* s = &sin_t[(size_t)pos[tok] * D];
    for (int h = 0; h < H + KV; h++)
      for (int i = 0; i < D; i++) {
        const bool first = i < half;
        const int lo = first ? i : i - half;
        const double x1 = x[h * D + lo], x2 = x[h * D + lo + half];
        const double a = first ? x1 * c[i] : x2 * c[i], b = first ? -x2 * s[i] : x1 * s[i];
        const double ref = a + b, e = 3 * std::ldexp(1.0, -24) * (std::fabs(a) + std::fabs(b));
        const double bound = t.output_bound(ref, e), got = t.load(qkv.p, (size_t)tok * stride + h * D + i);
        const double err_i = std::fabs(got - ref);
        if (!(err_i <= bound)) fail("rotated element out of bounds", tok, h * D + i);
        if (bound > 0) worst = std::max(worst, err_i / bound);
        else if (err_i > 0) worst = INFINITY;
      }
    for (int64_t i = (int64_t)(H + KV) * D; i < stride; i++)
      if (t.load(qkv.p, (size_t)tok * stride + i) != x[i]) fail("value or row padding changed", tok, (int)i);
    const size_t slot = (size_t)slots[tok] * KV * D, row = (size_t)tok * stride;
    written[slots[tok]] = true;
    for (int i = 0; i < KV * D; i++) {
      if (std::memcmp(k_cache.p + (slot + i) * t.bytes(), qkv.p + (row + (size_t)H * D + i) * t.bytes(), t.bytes()) != 0)
        fail("key cache differs from the rotated key", tok, i);
      if (std::memcmp(v_cache.p + (slot + i) * t.bytes(), qkv.p + (row + (size_t)(H + KV) * D + i) * t.bytes(), t.bytes()) != 0)
        fail("value cache differs from the value", tok, i);
    }
  }
  for (int s = 0; s < num_slots; s++) {
    if (written[s]) continue;
    for (size_t b = (size_t)s * KV * D * t.bytes(); b < (size_t)(s + 1) * KV * D * t.bytes(); b++)
      if (k_cache.p[b] != Output::kSentinel || v_cache.p[b] != Output::kSentinel) {
        fail("a slot no token owns was written", -1, s);
        break;
      }
  }
  std::printf("%s rotary: %d tokens × %d heads, worst error / bound %.3f%s\n", bad ? "FAIL" : "ok", T, H + KV, worst,
              bad ? (", " + std::to_string(bad) + " wrong").c_str() : "");
  return bad ? 1 : 0;
}

}  // namespace checks
