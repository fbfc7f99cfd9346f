// Runs one of the CUDA kernels under the emulator (include/simt.h) on random data and compares every output with a
// reference computed in double from the packed formats' definitions (groupwise_gemm.h, lut_gemm.h), element by
// element against an error bound from the kernel's rounding (stated at each check). Also checks that nothing outside
// y's [M, N] window (rows are strided) is written. AddressSanitizer reports any read or write outside the buffers,
// each allocated at its exact size.
//
//   kernel-checks groupwise a16|a16-sm90|a8|dequant bf16|fp16|fp32 BITS sym|asym GROUP M N K
//   kernel-checks lut table|mma|sm90|dequant bf16|fp16|fp32 f32|f16 Q GROUP M N K SPLITS X_OFFSET
//   kernel-checks int8 tiled|skinny|sm90|sm90-skinny fp32|fp16|bf16 M N K    (W8A8; y in that dtype)
//   kernel-checks dense skinny bf16|fp16 M N K                              (the 16-bit skinny GEMM)
//   kernel-checks selftest divergence|barrier      (the emulator's own detection of divergence and missing barriers)
//
// Prints one line with the worst error relative to its bound; exits 1 when any output is out of bounds.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include <cuda_fp16.h>
#include "groupwise_gemm.h"
#include "int8_gemm.h"
#include "lut_gemm.h"
#include "skinny_gemm.h"
#include "mma.cuh"

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: kernel-checks groupwise a16|a16-sm90|a8|dequant bf16|fp16|fp32 BITS sym|asym GROUP M N K\n"
               "       kernel-checks lut table|mma|sm90|dequant bf16|fp16|fp32 f32|f16 Q GROUP M N K SPLITS X_OFFSET\n"
               "       kernel-checks int8 tiled|skinny|sm90|sm90-skinny fp32|fp16|bf16 M N K\n"
               "       kernel-checks dense skinny bf16|fp16 M N K\n"
               "       kernel-checks selftest divergence|barrier\n",
               why);
  std::exit(2);
}

// A device buffer: host memory of exactly `count` elements, so that AddressSanitizer catches any access outside it.
template <typename T>
struct Buffer {
  T* p;
  size_t count;
  explicit Buffer(size_t n) : p(static_cast<T*>(std::malloc(n * sizeof(T) + (n == 0)))), count(n) {}
  ~Buffer() { std::free(p); }
  Buffer(const Buffer&) = delete;
  T& operator[](size_t i) { return p[i]; }
};

// 16-bit or 32-bit activations and outputs, by dtype code (0 float32, 1 float16, 2 bfloat16).
struct Dtype {
  int code;
  size_t bytes() const { return code == 0 ? 4 : 2; }
  // Unit roundoff of a store to this type (relative error of rounding to nearest); float32 outputs are stored as summed.
  double u() const { return code == 0 ? 0 : code == 1 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8); }
  // |stored − ref| when the kernel's float value is within e of ref.
  double output_bound(double ref, double e) const { return u() * (std::fabs(ref) + e) + e; }
  float round(float v) const { return code == 0 ? v : code == 1 ? __half2float(__float2half(v)) : __bfloat162float(__float2bfloat16(v)); }
  void store(void* base, size_t i, float v) const {
    if (code == 0) static_cast<float*>(base)[i] = v;
    else if (code == 1) static_cast<__half*>(base)[i] = __float2half(v);
    else static_cast<__nv_bfloat16*>(base)[i] = __float2bfloat16(v);
  }
  float load(const void* base, size_t i) const {
    if (code == 0) return static_cast<const float*>(base)[i];
    if (code == 1) return __half2float(static_cast<const __half*>(base)[i]);
    return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
  }
};

Dtype parse_dtype(const std::string& s) {
  if (s == "fp32") return {0};
  if (s == "fp16") return {1};
  if (s == "bf16") return {2};
  usage(("unknown dtype " + s).c_str());
}

int to_int(const char* s) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (*end || v < 0 || v > (1 << 30)) usage((std::string("not a count: ") + s).c_str());
  return (int)v;
}

// y [M, ys] with ys > N: rows start with the N outputs, the rest holds a sentinel nothing may overwrite.
struct Output {
  Dtype t;
  int m, n;
  int64_t stride;
  Buffer<uint8_t> mem;
  static constexpr uint8_t kSentinel = 0xA5;
  Output(Dtype t_, int m_, int n_) : t(t_), m(m_), n(n_), stride(n_ + 3), mem((size_t)m_ * (n_ + 3) * t_.bytes()) {
    std::memset(mem.p, kSentinel, mem.count);
  }
  float at(int r, int c) const { return t.load(mem.p, (size_t)r * stride + c); }
  bool padding_intact() const {
    for (int r = 0; r < m; r++)
      for (size_t b = (size_t)(r * stride + n) * t.bytes(); b < (size_t)(r + 1) * stride * t.bytes(); b++)
        if (mem.p[b] != kSentinel) return false;
    return true;
  }
};

// Worst-case error of summing K products in float32 (plus a few more terms), relative to Σ|products|.
double accumulation(int k) { return (k + 16) * std::ldexp(1.0, -24); }

// Compares y with ref [M, N] under bound [M, N]; prints the worst ratio. Returns the exit code.
int report(const char* what, const Output& y, const std::vector<double>& ref, const std::vector<double>& bound, cudaError_t err) {
  if (err != cudaSuccess) {
    std::printf("FAIL %s: launch returned %d\n", what, (int)err);
    return 1;
  }
  double worst = 0;
  int bad = 0;
  for (int r = 0; r < y.m; r++)
    for (int c = 0; c < y.n; c++) {
      const double got = y.at(r, c), want = ref[(size_t)r * y.n + c], b = bound[(size_t)r * y.n + c];
      const double e = std::fabs(got - want);
      if (!(e <= b)) {
        if (bad++ < 5) std::printf("  y[%d, %d] = %.7g, reference %.7g: error %.3g > bound %.3g\n", r, c, got, want, e, b);
      }
      if (b > 0) worst = std::max(worst, e / b);
      else if (e > 0) worst = INFINITY;
    }
  if (!y.padding_intact()) {
    std::printf("FAIL %s: wrote past column N of a strided output row\n", what);
    return 1;
  }
  std::printf("%s %s: %d outputs, worst error / bound %.3f%s\n", bad ? "FAIL" : "ok", what, y.m * y.n, worst,
              bad ? (", " + std::to_string(bad) + " outside").c_str() : "");
  return bad ? 1 : 0;
}

std::mt19937_64 rng(20261205);
double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
float normal() { return (float)std::normal_distribution<double>(0, 1)(rng); }

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
  for (size_t i = 0; i < packed.count; i++) packed[i] = (int32_t)(rng() & 0xFFFFFFFFu);
  Buffer<float> scales((size_t)n * groups);
  for (size_t i = 0; i < scales.count; i++) scales[i] = (float)uniform(0.005, 0.015);
  Buffer<uint8_t> zeros(sym ? 0 : (size_t)n * groups);
  for (size_t i = 0; i < zeros.count; i++) zeros[i] = (uint8_t)(rng() % (1u << bits));
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
        double s = bias[c], a = 0;
        for (int kk = 0; kk < k; kk++) {
          const double p = (double)xv[(size_t)r * k + kk] * w[(size_t)c * k + kk];
          s += p;
          a += std::fabs(p);
        }
        ref[(size_t)r * n + c] = s;
        bound[(size_t)r * n + c] = t.output_bound(s, (frag + accumulation(k)) * a);
      }
    return report(sm90 ? "groupwise a16 (Hopper)" : "groupwise a16", y, ref, bound, err);
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
        double s = 0, a = 0;
        for (int kk = 0; kk < k; kk++) {
          const double p = (double)xq[(size_t)r * xs8 + kk] * w[(size_t)c * k + kk];
          s += p;
          a += std::fabs(p);
        }
        s = s * xscale[r] + bias[c];
        ref[(size_t)r * n + c] = s;
        bound[(size_t)r * n + c] = t.output_bound(s, accumulation(k) * a * xscale[r]);
      }
    return report("groupwise a8", y, ref, bound, err);
  }
  usage(("unknown groupwise kernel " + kind).c_str());
}

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
        signs[((size_t)i * W + wd) * n + c] = (uint32_t)rng() & (valid == 32 ? 0xFFFFFFFFu : (1u << valid) - 1);  // bits past K are 0
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
  else
    usage(("unknown lut kernel " + kind).c_str());
  // Bounds, as in tests/Gpu.Tests/LutGemmKernelTests: table kernel (K + 16)·2^-24·Σ_k (Σ_i |α| + |offset|)·|x_k|
  // (float32 tables, chunk and plane sums); tensor cores 2·(eps_w + (K + 16)·2^-24)·Σ_k |w·x| with every weight rounded
  // to the 16-bit type (eps_w 2^-9 bfloat16, 2^-12 float16); both plus the output's rounding.
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
      bound[(size_t)r * n + c] = t.output_bound(s, kind == "table" ? acc_eps * a_tab : 2 * (w_eps + acc_eps) * a_w);
    }
  return report(kind == "table" ? "lut table" : kind == "mma" ? "lut tensor cores" : "lut tensor cores (Hopper)", y, ref, bound, err);
}

// ---- W8A8 (SmoothQuant) and the 16-bit skinny GEMM ----

int int8(int argc, char** argv) {
  if (argc != 7) usage("int8 takes 5 arguments");
  const std::string kind = argv[2];
  const Dtype t = parse_dtype(argv[3]);
  const int m = to_int(argv[4]), n = to_int(argv[5]), k = to_int(argv[6]);
  const int64_t xs = k + 16;  // strided rows, 16-byte aligned as TMA needs
  Buffer<int8_t> xq((size_t)m * xs), wq((size_t)n * k);
  Buffer<float> xscale(m), wscale(n);
  for (size_t i = 0; i < xq.count; i++) xq[i] = (int8_t)(rng() % 255 - 127);
  for (size_t i = 0; i < wq.count; i++) wq[i] = (int8_t)(rng() % 255 - 127);
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
      double s = bias[c], a = 0;
      for (int kk = 0; kk < k; kk++) {
        const double p = (double)xv[(size_t)r * k + kk] * wv[(size_t)c * k + kk];
        s += p;
        a += std::fabs(p);
      }
      ref[(size_t)r * n + c] = s;
      bound[(size_t)r * n + c] = t.output_bound(s, accumulation(k) * a);
    }
  return report("dense skinny", y, ref, bound, err);
}

// ---- the emulator's own checks ----

// Lane 0 of each warp skips the MMA the other 31 lanes issue: a GPU would hang or compute garbage; the emulator must
// stop and say so (the caller expects this program to abort with "cannot go on").
__global__ void divergent_mma_kernel(float* out) {
  float d[4] = {0.f, 0.f, 0.f, 0.f};
  if (threadIdx.x % 32 != 0) mma_f16_16x8x16<true>(d, 0u, 0u, 0u, 0u, 0u, 0u);
  out[threadIdx.x] = d[0];
}

// Each thread writes its slot of shared memory and reads its neighbour's, with or without the barrier in between.
// Without it, the shuffled thread order must make some reads see the slot before it was written.
__global__ void neighbour_kernel(int* out, bool barrier) {
  __shared__ int slot[128];
  slot[threadIdx.x] = 0;
  __syncthreads();
  slot[threadIdx.x] = (int)threadIdx.x + 1;
  if (barrier) __syncthreads();
  out[threadIdx.x] = slot[(threadIdx.x + 1) % 128];
}

int selftest(int argc, char** argv) {
  if (argc != 3) usage("selftest takes 1 argument");
  const std::string what = argv[2];
  if (what == "divergence") {
    Buffer<float> out(64);
    simt::launch(divergent_mma_kernel, simt::Config{1, 64}, out.p);
    std::printf("FAIL selftest divergence: a warp-wide instruction without all its lanes ran\n");
    return 1;
  }
  if (what == "barrier") {
    Buffer<int> out(128);
    int stale[2] = {0, 0};
    for (int barrier = 0; barrier < 2; barrier++) {
      simt::launch(neighbour_kernel, simt::Config{1, 128}, out.p, barrier == 1);
      for (int i = 0; i < 128; i++) stale[barrier] += out[i] != (i + 1) % 128 + 1;
    }
    const bool ok = stale[0] > 0 && stale[1] == 0;
    std::printf("%s selftest barrier: %d of 128 reads stale without the barrier, %d with it\n", ok ? "ok" : "FAIL", stale[0], stale[1]);
    return ok ? 0 : 1;
  }
  usage(("unknown selftest " + what).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) usage("no family given");
  const std::string family = argv[1];
  if (family == "groupwise") return groupwise(argc, argv);
  if (family == "lut") return lut(argc, argv);
  if (family == "int8") return int8(argc, argv);
  if (family == "dense") return dense(argc, argv);
  if (family == "selftest") return selftest(argc, argv);
  usage(("unknown family " + family).c_str());
}
