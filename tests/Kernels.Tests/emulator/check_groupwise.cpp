// The group-wise (ZeroQuant / pack-quantized) kernels: A16 (mma.sync, aligned or general; Hopper), A8, dequantize.
#include "check_support.h"
#include "fused_ops.h"
#include "groupwise_gemm.h"

namespace checks {

// ---- group-wise (ZeroQuant / pack-quantized) ----

int groupwise(int argc, char** argv) {
  if (argc != 10) usage("groupwise takes 8 arguments");
  const std::string kind = argv[2];
  const Dtype t = parse_dtype(argv[3]);
  const int bits = to_int(argv[4]);
  const bool sym = std::string(argv[5]) == "sym";
  const int group = to_int(argv[6]), m = to_int(argv[7]), n = to_int(argv[8]), k = to_int(argv[9]);
  const int groups = k / group, per_word = 32 / bits;
  Buffer<int32_t> packed((size_t)n * k / per_word);
  for (size_t i = 0; i < packed.count; i++) packed[i] = (int32_t)(rng()() & 0xFFFFFFFFu);
  Buffer<float> scales((size_t)n * groups);
  for (size_t i = 0; i < scales.count; i++) scales[i] = (float)uniform(0.005, 0.015);
  Buffer<uint8_t> zeros(sym ? 0 : (size_t)n * groups);
  for (size_t i = 0; i < zeros.count; i++) zeros[i] = (uint8_t)(rng()() % (1u << bits));
  const uint8_t* z = sym ? nullptr : zeros.p;
  // W[n, k] = (u − z)·s, the layout of groupwise_gemm.h: code k in bits b·(k mod 32/b) of word k / (32/b).
  auto code = [&](int r, int c) { return (uint32_t)packed[(size_t)r * (k / per_word) + c / per_word] >> (bits * (c % per_word)) & ((1u << bits) - 1); };
  auto weight = [&](int r, int c) {
    const size_t gi = (size_t)r * groups + c / group;
    const float zp = sym ? (float)(1 << (bits - 1)) : (float)zeros[gi];
    return ((float)code(r, c) - zp) * scales[gi];  // in float, as both the kernels and the CPU reference compute it
  };

  if (kind == "dequant") {
    Output w(t, n, k);  // [N, K] unstrided: the kernel writes whole rows; read through the same accessor
    w.stride = k;
    Buffer<uint8_t> dense((size_t)n * k * t.bytes());
    const cudaError_t err = launch_groupwise_dequantize(t.code, dense.p, packed.p, scales.p, z, n, k, bits, group, nullptr);
    std::vector<double> ref((size_t)n * k), bound((size_t)n * k, 0.0);
    for (int r = 0; r < n; r++)
      for (int c = 0; c < k; c++) ref[(size_t)r * k + c] = t.round(weight(r, c));
    std::memcpy(w.mem.p, dense.p, dense.count);
    return report("groupwise dequantize (bit-equal)", w, ref, bound, err);
  }

  const int64_t xs = k + 8;  // strided rows (a multiple of 8 elements: 16-byte aligned rows for 16-bit x)
  Output y(t, m, n);
  Buffer<uint8_t> bias_mem((size_t)n * t.bytes());
  std::vector<float> bias(n);
  for (int c = 0; c < n; c++) {
    bias[c] = t.round(normal() * 0.1f);
    t.store(bias_mem.p, c, bias[c]);
  }
  std::vector<double> ref((size_t)m * n), bound((size_t)m * n);
  std::vector<float> w((size_t)n * k);
  for (int r = 0; r < n; r++)
    for (int c = 0; c < k; c++) w[(size_t)r * k + c] = weight(r, c);

  if (kind == "a16" || kind == "a16-sm90") {
    if (t.code == 0) usage("a16 takes bf16 or fp16");
    Buffer<uint8_t> x((size_t)m * xs * t.bytes());
    std::vector<float> xv((size_t)m * k);
    for (int r = 0; r < m; r++)
      for (int c = 0; c < xs; c++) {
        const float v = t.round(normal());
        t.store(x.p, (size_t)r * xs + c, v);
        if (c < k) xv[(size_t)r * k + c] = v;
      }
    const bool sm90 = kind == "a16-sm90";
    const cudaError_t err =
        sm90 ? launch_groupwise_gemm_a16_sm90(t.code, y.mem.p, x.p, packed.p, scales.p, z, bias_mem.p, m, n, k, group, xs, y.stride, nullptr)
             : launch_groupwise_gemm_a16(t.code, y.mem.p, x.p, packed.p, scales.p, z, bias_mem.p, m, n, k, bits, group, xs, y.stride, nullptr);
    // Bound: float accumulation and, where the scale is applied to the fragments (groups smaller than a 64-byte chunk;
    // always on the Hopper kernel), the rounding of (u − z)·s to the 16-bit type (u·Σ|x·w|); then the output's rounding.
    const double frag = sm90 || group * bits < 512 ? t.u() : 0;
    for (int r = 0; r < m; r++)
      for (int c = 0; c < n; c++) {
        const Dot d = dot(&xv[(size_t)r * k], &w[(size_t)c * k], k);
        ref[(size_t)r * n + c] = d.sum + bias[c];
        bound[(size_t)r * n + c] = t.output_bound(d.sum + bias[c], (frag + accumulation(k)) * d.magnitude);
      }
    return report(sm90 ? "groupwise a16 (Hopper)" : "groupwise a16", y, ref, bound, err);
  }
  if (kind == "a16-gated") {  // W = [gate; up] (n = 2I rows): y [m, I] = silu(gate)·up from the kernel's epilogue
    if (t.code == 0 || n % 2 != 0) usage("a16-gated takes bf16 or fp16 and an even N");
    Buffer<uint8_t> x((size_t)m * xs * t.bytes());
    for (size_t i = 0; i < (size_t)m * xs; i++) t.store(x.p, i, t.round(normal()));
    const int inter = n / 2;
    Output gated(t, m, inter);
    const cudaError_t err = launch_groupwise_gemm_a16_gated(t.code, gated.mem.p, x.p, packed.p, scales.p, z, bias_mem.p, m, n, k, group, xs,
                                                            gated.stride, nullptr);
    // Bit-equal to the projection [m, 2I] (the plain kernel) and then silu_mul, both emulated.
    Buffer<uint8_t> gate_up((size_t)m * n * t.bytes()), act((size_t)m * inter * t.bytes());
    if (launch_groupwise_gemm_a16(t.code, gate_up.p, x.p, packed.p, scales.p, z, bias_mem.p, m, n, k, bits, group, xs, n, nullptr) != cudaSuccess ||
        launch_silu_mul(t.code, act.p, gate_up.p, m, inter, nullptr) != cudaSuccess)
      usage("a16-gated: the reference launches failed");
    std::vector<double> same((size_t)m * inter), zero((size_t)m * inter, 0.0);
    for (size_t i = 0; i < same.size(); i++) same[i] = t.load(act.p, i);
    return report("groupwise a16 gated (bit-equal)", gated, same, zero, err);
  }
  if (kind == "a8") {
    const int64_t xs8 = k + 16;
    Buffer<int8_t> xq((size_t)m * xs8);
    Buffer<float> xscale(m);
    for (int r = 0; r < m; r++) {
      std::vector<float> row(k);
      float amax = 0;
      for (int c = 0; c < k; c++) amax = std::max(amax, std::fabs(row[c] = normal()));
      xscale[r] = amax / 127.f;
      for (int c = 0; c < xs8; c++) xq[(size_t)r * xs8 + c] = c < k ? (int8_t)std::lrint(row[c] / xscale[r]) : (int8_t)0x7F;
    }
    const cudaError_t err = launch_groupwise_gemm_a8(t.code, y.mem.p, xq.p, xscale.p, packed.p, scales.p, z, bias_mem.p, m, n, k, bits,
                                                     group, xs8, y.stride, nullptr);
    // Exact int32 sums per 32 columns; float accumulation of the scaled sums, then the output's rounding.
    for (int r = 0; r < m; r++)
      for (int c = 0; c < n; c++) {
        const Dot d = dot(&xq[(size_t)r * xs8], &w[(size_t)c * k], k);
        const double s = d.sum * xscale[r] + bias[c];
        ref[(size_t)r * n + c] = s;
        bound[(size_t)r * n + c] = t.output_bound(s, accumulation(k) * d.magnitude * xscale[r]);
      }
    return report("groupwise a8", y, ref, bound, err);
  }
  usage(("unknown groupwise kernel " + kind).c_str());
}

}  // namespace checks
