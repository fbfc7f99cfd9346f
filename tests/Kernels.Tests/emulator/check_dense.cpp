// W8A8 (SmoothQuant) on every INT8 kernel, and the 16-bit skinny GEMM.
#include "check_support.h"
#include "int8_gemm.h"
#include "skinny_gemm.h"

namespace checks {

// ---- W8A8 (SmoothQuant) and the 16-bit skinny GEMM ----

int int8(int argc, char** argv) {
  if (argc != 7) usage("int8 takes 5 arguments");
  const std::string kind = argv[2];
  const Dtype t = parse_dtype(argv[3]);
  const int m = to_int(argv[4]), n = to_int(argv[5]), k = to_int(argv[6]);
  const int64_t xs = k + 16;  // strided rows, 16-byte aligned as TMA needs
  Buffer<int8_t> xq((size_t)m * xs), wq((size_t)n * k);
  Buffer<float> xscale(m), wscale(n);
  for (size_t i = 0; i < xq.count; i++) xq[i] = (int8_t)(rng()() % 255 - 127);
  for (size_t i = 0; i < wq.count; i++) wq[i] = (int8_t)(rng()() % 255 - 127);
  for (int r = 0; r < m; r++) xscale[r] = (float)uniform(0.5, 1.5) / 127.f;
  for (int c = 0; c < n; c++) wscale[c] = (float)uniform(0.5, 1.5) * 0.02f / 127.f;
  Buffer<uint8_t> bias_mem((size_t)n * t.bytes());
  std::vector<float> bias(n);
  for (int c = 0; c < n; c++) t.store(bias_mem.p, c, bias[c] = t.round(normal() * 0.1f));
  Output y(t, m, n);
  cudaError_t err;
  if (kind == "tiled")
    err = launch_int8_gemm_tiled(t.code, y.mem.p, xq.p, xscale.p, wq.p, wscale.p, bias_mem.p, m, n, k, xs, y.stride, nullptr);
  else if (kind == "skinny")
    err = launch_skinny_gemm_s8(t.code, y.mem.p, xq.p, xscale.p, wq.p, wscale.p, bias_mem.p, m, n, k, xs, y.stride, nullptr);
  else if (kind == "sm90")
    err = launch_int8_gemm_sm90(t.code, y.mem.p, xq.p, xscale.p, wq.p, wscale.p, bias_mem.p, m, n, k, xs, y.stride, nullptr);
  else if (kind == "sm90-skinny")
    err = launch_int8_gemm_sm90_skinny(t.code, y.mem.p, xq.p, xscale.p, wq.p, wscale.p, bias_mem.p, m, n, k, xs, y.stride, nullptr);
  else
    usage(("unknown int8 kernel " + kind).c_str());
  // The int32 sums are exact; a few float roundings (scales, bias) and then the output's.
  std::vector<double> ref((size_t)m * n), bound((size_t)m * n);
  for (int r = 0; r < m; r++)
    for (int c = 0; c < n; c++) {
      int64_t acc = 0;
      for (int kk = 0; kk < k; kk++) acc += (int64_t)xq[(size_t)r * xs + kk] * wq[(size_t)c * k + kk];
      const double s = (double)acc * xscale[r] * wscale[c] + bias[c];
      ref[(size_t)r * n + c] = s;
      bound[(size_t)r * n + c] = t.output_bound(s, std::ldexp(1.0, -20) * (std::fabs(s) + std::fabs(bias[c])));
    }
  return report(("int8 " + kind).c_str(), y, ref, bound, err);
}

int dense(int argc, char** argv) {
  if (argc != 7 || std::string(argv[2]) != "skinny") usage("dense takes skinny and 4 arguments");
  const Dtype t = parse_dtype(argv[3]);
  if (t.code == 0) usage("dense skinny takes bf16 or fp16");
  const int m = to_int(argv[4]), n = to_int(argv[5]), k = to_int(argv[6]);
  const int64_t xs = k + 8;
  Buffer<uint8_t> x((size_t)m * xs * t.bytes()), w((size_t)n * k * t.bytes()), bias_mem((size_t)n * t.bytes());
  std::vector<float> xv((size_t)m * k), wv((size_t)n * k), bias(n);
  for (int r = 0; r < m; r++)
    for (int c = 0; c < xs; c++) {
      const float v = t.round(normal());
      t.store(x.p, (size_t)r * xs + c, v);
      if (c < k) xv[(size_t)r * k + c] = v;
    }
  for (size_t i = 0; i < wv.size(); i++) t.store(w.p, i, wv[i] = t.round(normal() * 0.05f));
  for (int c = 0; c < n; c++) t.store(bias_mem.p, c, bias[c] = t.round(normal() * 0.1f));
  Output y(t, m, n);
  const cudaError_t err = launch_skinny_gemm_f16(t.code, y.mem.p, x.p, w.p, bias_mem.p, m, n, k, xs, y.stride, nullptr);
  std::vector<double> ref((size_t)m * n), bound((size_t)m * n);
  for (int r = 0; r < m; r++)
    for (int c = 0; c < n; c++) {
      const Dot d = dot(&xv[(size_t)r * k], &wv[(size_t)c * k], k);
      ref[(size_t)r * n + c] = d.sum + bias[c];
      bound[(size_t)r * n + c] = t.output_bound(d.sum + bias[c], accumulation(k) * d.magnitude);
    }
  return report("dense skinny", y, ref, bound, err);
}

}  // namespace checks
