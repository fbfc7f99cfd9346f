// The LUT-GEMM kernels: table, streaming, tensor cores (mma.sync; Hopper), dequantize.
#include "check_support.h"
#include "lut_gemm.h"

namespace checks {

// ---- LUT-GEMM (binary-coded weights) ----

int lut(int argc, char** argv) {
  if (argc != 12) usage("lut takes 10 arguments");
  const std::string kind = argv[2];
  const Dtype t = parse_dtype(argv[3]);
  const bool half_scales = std::string(argv[4]) == "f16";
  const int q = to_int(argv[5]), group = to_int(argv[6]), m = to_int(argv[7]), n = to_int(argv[8]), k = to_int(argv[9]);
  const int splits = to_int(argv[10]), xoff = to_int(argv[11]);
  const int W = (k + 31) / 32, G = (k + group - 1) / group;
  Buffer<uint32_t> signs((size_t)q * W * n);
  for (int i = 0; i < q; i++)
    for (int wd = 0; wd < W; wd++)
      for (int c = 0; c < n; c++) {
        const int valid = std::min(32, k - 32 * wd);
        signs[((size_t)i * W + wd) * n + c] = (uint32_t)rng()() & (valid == 32 ? 0xFFFFFFFFu : (1u << valid) - 1);  // bits past K are 0
      }
  // α [q, G, N] (decreasing per plane, like greedy BCQ) and offset [G, N], float32 or float16 as the kernel reads them.
  std::vector<float> alpha((size_t)q * G * n), offset((size_t)G * n);
  const Dtype st{half_scales ? 1 : 0};
  for (size_t i = 0; i < alpha.size(); i++) alpha[i] = st.round((float)uniform(0.5, 1.0) * 0.02f / (float)(1 << (i / ((size_t)G * n))));
  for (auto& o : offset) o = st.round((float)uniform(-0.01, 0.01));
  Buffer<uint8_t> alpha_mem(alpha.size() * st.bytes()), offset_mem(offset.size() * st.bytes());
  for (size_t i = 0; i < alpha.size(); i++) st.store(alpha_mem.p, i, alpha[i]);
  for (size_t i = 0; i < offset.size(); i++) st.store(offset_mem.p, i, offset[i]);
  auto bit = [&](int i, int r, int c) { return signs[((size_t)i * W + c / 32) * n + r] >> (c % 32) & 1u; };
  // W[r, c] = Σ_i α[i, g, r]·(±1) + offset[g, r], summed in float from the offset, as the dequantize kernel does.
  auto weight = [&](int r, int c) {
    const int g = c / group;
    float s = offset[(size_t)g * n + r];
    for (int i = 0; i < q; i++) s += bit(i, r, c) ? alpha[((size_t)i * G + g) * n + r] : -alpha[((size_t)i * G + g) * n + r];
    return s;
  };

  if (kind == "dequant") {
    Output w(t, n, k);
    w.stride = k;
    Buffer<uint8_t> dense((size_t)n * k * t.bytes());
    const cudaError_t err =
        launch_bcq_dequantize(t.code, dense.p, signs.p, alpha_mem.p, offset_mem.p, half_scales ? 1 : 0, n, k, q, group, nullptr);
    std::vector<double> ref((size_t)n * k), bound((size_t)n * k, 0.0);
    for (int r = 0; r < n; r++)
      for (int c = 0; c < k; c++) ref[(size_t)r * k + c] = t.round(weight(r, c));
    std::memcpy(w.mem.p, dense.p, dense.count);
    return report("bcq dequantize (bit-equal)", w, ref, bound, err);
  }

  const int64_t xs = k + xoff + 8;
  Buffer<uint8_t> x_mem(((size_t)m * xs) * t.bytes());
  std::vector<float> xv((size_t)m * k);
  for (int r = 0; r < m; r++)
    for (int c = 0; c < xs; c++) {
      const float v = t.round(normal());
      t.store(x_mem.p, (size_t)r * xs + c, v);
      if (c >= xoff && c - xoff < k) xv[(size_t)r * k + c - xoff] = v;
    }
  const void* x = x_mem.p + (size_t)xoff * t.bytes();  // x_offset elements in: rows not on 16-byte boundaries
  Buffer<uint8_t> bias_mem((size_t)n * t.bytes());
  std::vector<float> bias(n);
  for (int c = 0; c < n; c++) t.store(bias_mem.p, c, bias[c] = t.round(normal() * 0.1f));
  Buffer<float> ws((size_t)std::max(splits, 1) * m * n);
  Output y(t, m, n);
  cudaError_t err;
  if (kind == "table")
    err = launch_lut_gemm(t.code, y.mem.p, ws.p, x, signs.p, alpha_mem.p, offset_mem.p, half_scales ? 1 : 0, bias_mem.p, m, n, k, q, group,
                          xs, y.stride, splits, nullptr);
  else if (kind == "mma")
    err = launch_bcq_mma(t.code, y.mem.p, ws.p, x, signs.p, alpha_mem.p, offset_mem.p, half_scales ? 1 : 0, bias_mem.p, m, n, k, q, group,
                         xs, y.stride, splits, nullptr);
  else if (kind == "sm90")
    err = launch_bcq_gemm_sm90(t.code, y.mem.p, x, signs.p, alpha_mem.p, offset_mem.p, half_scales ? 1 : 0, bias_mem.p, m, n, k, q, group, xs,
                               y.stride, nullptr);
  else if (kind == "stream")
    err = launch_bcq_stream(t.code, y.mem.p, x, signs.p, alpha_mem.p, offset_mem.p, half_scales ? 1 : 0, bias_mem.p, m, n, k, q, group, xs,
                            y.stride, nullptr);
  else
    usage(("unknown lut kernel " + kind).c_str());
  // Bounds, as in tests/Gpu.Tests/LutGemmKernelTests: table and streaming kernels (K + 16)·2^-24·Σ_k (Σ_i |α| +
  // |offset|)·|x_k| (float32 tables or ±x plane sums, chunk and plane sums); tensor cores 2·(eps_w + (K + 16)·2^-24)·
  // Σ_k |w·x| with every weight rounded to the 16-bit type (eps_w 2^-9 bfloat16, 2^-12 float16); both plus the
  // output's rounding.
  const double acc_eps = accumulation(k);
  const double w_eps = t.code == 2 ? std::ldexp(1.0, -9) : std::ldexp(1.0, -12);
  std::vector<double> ref((size_t)m * n), bound((size_t)m * n);
  for (int r = 0; r < m; r++)
    for (int c = 0; c < n; c++) {
      double s = bias[c], a_tab = 0, a_w = 0;
      for (int kk = 0; kk < k; kk++) {
        const int g = kk / group;
        double mag = std::fabs(offset[(size_t)g * n + c]);
        for (int i = 0; i < q; i++) mag += std::fabs(alpha[((size_t)i * G + g) * n + c]);
        const double xk = xv[(size_t)r * k + kk], wk = weight(c, kk);
        s += xk * wk;
        a_tab += mag * std::fabs(xk);
        a_w += std::fabs(xk * wk);
      }
      ref[(size_t)r * n + c] = s;
      bound[(size_t)r * n + c] = t.output_bound(s, kind == "table" || kind == "stream" ? acc_eps * a_tab : 2 * (w_eps + acc_eps) * a_w);
    }
  return report(kind == "table"    ? "lut table"
                : kind == "stream" ? "lut streaming"
                : kind == "mma"    ? "lut tensor cores"
                                   : "lut tensor cores (Hopper)",
                y, ref, bound, err);
}

}  // namespace checks
