// The row kernels: RMSNorm, the residual add folded into it, silu(gate)·up (fused_ops.cu) and the same with the
// per-token INT8 quantization fused in, plus plain per-token quantization (quantize.cu). References follow HF's and
// torch's rounding exactly (RMSNorm: x·rsqrt(mean x² + eps) rounded to the dtype, times the weight, rounded; silu
// rounded, times up, rounded; scale max|v| / 127 and levels round(v / scale) half to even, clamped to ±127). The one
// freedom is RMSNorm's sum of squares, which the kernel adds in its own order: the reference is computed with the
// factor rsqrt(...) scaled by 1 − 2e-6, 1 and 1 + 2e-6, and every output must lie between the first and the last (a
// float sum of up to 8192 squares in any order is within a few 1e-7 of the exact one). In 16 bits that means equal to
// one of them.
#include <algorithm>
#include "check_support.h"
#include "fused_ops.h"
#include "quantize.h"

namespace checks {
namespace {

constexpr int kVariants = 3;  // RMSNorm's factor scaled by 1 − δ, 1, 1 + δ
constexpr double kSumSlack = 2e-6;

// RMSNorm of a row as HF computes it (statistics in double here, the factor scaled by `factor`), then the weight: both
// products rounded to t.
std::vector<float> rms_norm(const Dtype& t, const float* x, const std::vector<float>& w, int h, float eps, double factor) {
  double ss = 0;
  for (int i = 0; i < h; i++) ss += (double)x[i] * x[i];
  const float inv = (float)(factor / std::sqrt(ss / h + eps));
  std::vector<float> v(h);
  for (int i = 0; i < h; i++) v[i] = t.round(t.round(x[i] * inv) * w[i]);
  return v;
}

// With the residual add folded in, the residual rows themselves must hold residual + delta rounded to t afterwards.
bool residual_updated(const Dtype& t, bool add, const void* residual, const std::vector<float>& before, const std::vector<float>& delta,
                      int r, int h, int64_t stride) {
  if (!add) return true;
  int bad = 0;
  for (int row = 0; row < r; row++)
    for (int i = 0; i < h; i++) {
      const size_t at = (size_t)row * stride + i;
      if (t.load(residual, at) != t.round(before[at] + delta[at]) && bad++ < 5) std::printf("  residual[%d, %d] not updated\n", row, i);
    }
  if (bad) std::printf("FAIL: %d residual elements differ from residual + delta\n", bad);
  return bad == 0;
}

}  // namespace

// kernel-checks rows quantize|rms-quant|add-rms-quant|silu-quant|rms|add-rms|silu DTYPE ROWS WIDTH STATIC_SCALE
// (STATIC_SCALE 0: per-token dynamic scales). Up to 16 rows wider than 8192 take the launcher's cluster path.
int rows(int argc, char** argv) {
  if (argc != 7) usage("rows takes 5 arguments");
  const std::string kind = argv[2];
  const Dtype t = parse_dtype(argv[3]);
  const int r = to_int(argv[4]), h = to_int(argv[5]);
  const float static_scale = (float)std::atof(argv[6]), eps = 1e-5f;
  const bool silu = kind == "silu" || kind == "silu-quant", add = kind == "add-rms" || kind == "add-rms-quant";
  const bool quant = (kind.size() > 6 && kind.substr(kind.size() - 6) == "-quant") || kind == "quantize";
  const int in_width = silu ? 2 * h : h;
  const int64_t xs = silu ? in_width : in_width + 8;  // strided rows where the kernel takes a stride
  Buffer<uint8_t> x((size_t)r * xs * t.bytes()), delta((size_t)r * xs * t.bytes()), w((size_t)h * t.bytes());
  std::vector<float> xf((size_t)r * xs), df((size_t)r * xs), wf(h);
  for (size_t i = 0; i < xf.size(); i++) t.store(x.p, i, xf[i] = t.round(normal() * 2));
  for (size_t i = 0; i < df.size(); i++) t.store(delta.p, i, df[i] = t.round(normal()));
  for (int i = 0; i < h; i++) t.store(w.p, i, wf[i] = t.round(1 + 0.1f * normal()));

  // The values each kernel normalises, activates or quantizes, [variant][r, h] (the variants differ for RMSNorm only).
  std::vector<std::vector<float>> v(kVariants, std::vector<float>((size_t)r * h));
  for (int var = 0; var < kVariants; var++)
    for (int row = 0; row < r; row++) {
      const float* xr = &xf[(size_t)row * xs];
      std::vector<float> rv;
      if (silu) {
        rv.resize(h);
        for (int i = 0; i < h; i++) rv[i] = t.round(t.round(xr[i] / (1.f + std::exp(-xr[i]))) * xr[h + i]);
      } else if (kind == "quantize") {
        rv.assign(xr, xr + h);
      } else {
        std::vector<float> in(xr, xr + h);
        if (add)
          for (int i = 0; i < h; i++) in[i] = t.round(in[i] + df[(size_t)row * xs + i]);
        rv = rms_norm(t, in.data(), wf, h, eps, 1 + (var - 1) * kSumSlack);
      }
      std::copy(rv.begin(), rv.end(), v[var].begin() + (size_t)row * h);
    }

  cudaError_t err = cudaErrorInvalidValue;
  if (quant) {
    Buffer<int8_t> q((size_t)r * h);
    Buffer<float> scale(r);
    if (kind == "quantize") err = launch_quantize_rows(t.code, q.p, scale.p, x.p, r, h, xs, static_scale, nullptr);
    else if (kind == "rms-quant") err = launch_rms_norm_quant(t.code, q.p, scale.p, x.p, w.p, r, h, xs, eps, static_scale, nullptr);
    else if (kind == "add-rms-quant")
      err = launch_add_rms_norm_quant(t.code, q.p, scale.p, x.p, delta.p, w.p, r, h, xs, xs, eps, static_scale, nullptr);
    else if (kind == "silu-quant") err = launch_silu_mul_quant(t.code, q.p, scale.p, x.p, r, h, static_scale, nullptr);
    else usage(("unknown rows kernel " + kind).c_str());
    if (err != cudaSuccess) {
      std::printf("FAIL rows %s: launch returned %d\n", kind.c_str(), (int)err);
      return 1;
    }
    // Per token: the kernel's scale must be one variant's max(max|v|, 1e-8) / 127 (or the static scale), and every
    // level round(v / scale) clamped to ±127 for one variant's v.
    int bad = 0, worst_step = 0;
    for (int row = 0; row < r; row++) {
      float lo = INFINITY, hi = -INFINITY;
      for (int var = 0; var < kVariants; var++) {
        float amax = 0;
        for (int i = 0; i < h; i++) amax = std::max(amax, std::fabs(v[var][(size_t)row * h + i]));
        const float sv = static_scale > 0 ? static_scale : std::max(amax, 1e-8f) / 127.f;
        lo = std::min(lo, sv), hi = std::max(hi, sv);
      }
      if (!(scale[row] >= lo && scale[row] <= hi) && bad++ < 5) std::printf("  scale[%d] = %.9g, reference %.9g\n", row, scale[row], lo);
      for (int i = 0; i < h; i++) {
        const int got = q[(size_t)row * h + i];
        int nearest = 1 << 20;
        for (int var = 0; var < kVariants; var++) {
          const float level = std::min(127.f, std::max(-127.f, std::nearbyint(v[var][(size_t)row * h + i] / scale[row])));
          nearest = std::min(nearest, std::abs(got - (int)level));
        }
        worst_step = std::max(worst_step, nearest);
        if (nearest != 0 && bad++ < 5) std::printf("  q[%d, %d] = %d, %d steps from the reference\n", row, i, got, nearest);
      }
    }
    std::printf("%s rows %s: %d rows, worst level step %d\n", bad ? "FAIL" : "ok", kind.c_str(), r, worst_step);
    return residual_updated(t, add, x.p, xf, df, r, h, xs) && !bad ? 0 : 1;
  }

  Output out(t, r, h, silu ? 0 : 8);  // silu_mul writes [T, I] contiguous
  if (kind == "rms") err = launch_rms_norm(t.code, out.mem.p, x.p, w.p, r, h, xs, out.stride, eps, nullptr);
  else if (kind == "add-rms") err = launch_add_rms_norm(t.code, out.mem.p, x.p, delta.p, w.p, r, h, xs, xs, out.stride, eps, nullptr);
  else if (kind == "silu") err = launch_silu_mul(t.code, out.mem.p, x.p, r, h, nullptr);
  else usage(("unknown rows kernel " + kind).c_str());
  // The middle variant, with the outer ones' distance from it as the bound (zero where they agree).
  std::vector<double> ref(v[1].begin(), v[1].end()), bound(ref.size());
  for (size_t i = 0; i < ref.size(); i++) bound[i] = std::max(std::fabs((double)v[0][i] - ref[i]), std::fabs((double)v[2][i] - ref[i]));
  const int code = report(("rows " + kind).c_str(), out, ref, bound, err);
  return residual_updated(t, add, x.p, xf, df, r, h, xs) ? code : 1;
}

}  // namespace checks
