// What the kernel checks share: buffers at their exact sizes, the dtypes, the strided output with its sentinel padding,
// the error bounds' building blocks and the report (kernel_checks.cpp lists the checks).
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include <cuda_fp16.h>

namespace checks {

[[noreturn]] inline void usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: kernel-checks groupwise a16|a16-sm90|a16-gated|a16-add-norm|a8|dequant bf16|fp16|fp32 BITS sym|asym GROUP M N K\n"
               "       kernel-checks lut table|mma|sm90|dequant bf16|fp16|fp32 f32|f16 Q GROUP M N K SPLITS X_OFFSET\n"
               "       kernel-checks int8 tiled|skinny|sm90|sm90-skinny fp32|fp16|bf16 M N K\n"
               "       kernel-checks dense skinny bf16|fp16 M N K\n"
               "       kernel-checks attention fp32|fp16|bf16 B H KV D BLOCK_SIZE MAX_CONTEXT WINDOW SPLITS\n"
               "       kernel-checks rows quantize|rms-quant|add-rms-quant|silu-quant|rms|add-rms|silu DTYPE ROWS WIDTH STATIC_SCALE\n"
               "       kernel-checks rotary DTYPE TOKENS HEADS KV_HEADS HEAD_DIM ROW_PAD\n"
               "       kernel-checks argmax DTYPE ROWS COLS random|ties|nan|neginf\n"
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

inline Dtype parse_dtype(const std::string& s) {
  if (s == "fp32") return {0};
  if (s == "fp16") return {1};
  if (s == "bf16") return {2};
  usage(("unknown dtype " + s).c_str());
}

inline int to_int(const char* s) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (*end || v < 0 || v > (1 << 30)) usage((std::string("not a count: ") + s).c_str());
  return (int)v;
}

// y [M, ys] with ys > N (N + pad; 3 unless the kernel needs aligned rows): rows start with the N outputs, the rest holds a
// sentinel nothing may overwrite.
struct Output {
  Dtype t;
  int m, n;
  int64_t stride;
  Buffer<uint8_t> mem;
  static constexpr uint8_t kSentinel = 0xA5;
  Output(Dtype t_, int m_, int n_, int pad = 3) : t(t_), m(m_), n(n_), stride(n_ + pad), mem((size_t)m_ * (n_ + pad) * t_.bytes()) {
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

// Σ_k x[k]·w[k] in double, and Σ_k |x[k]·w[k]|, the scale of its rounding errors.
struct Dot {
  double sum = 0, magnitude = 0;
};
template <typename X>
inline Dot dot(const X* x, const float* w, int k) {
  Dot d;
  for (int i = 0; i < k; i++) {
    const double p = (double)x[i] * w[i];
    d.sum += p;
    d.magnitude += std::fabs(p);
  }
  return d;
}

// Worst-case error of summing K products in float32 (plus a few more terms), relative to Σ|products|.
inline double accumulation(int k) { return (k + 16) * std::ldexp(1.0, -24); }

// Compares y with ref [M, N] under bound [M, N]; prints the worst ratio. Returns the exit code.
inline int report(const char* what, const Output& y, const std::vector<double>& ref, const std::vector<double>& bound, cudaError_t err) {
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

// Random data for the checks, the same sequence on every run.
inline std::mt19937_64& rng() {
  static std::mt19937_64 r(20261205);
  return r;
}
inline double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng()); }
inline float normal() { return (float)std::normal_distribution<double>(0, 1)(rng()); }

// The checks, one per kernel family (argv as kernel-checks got it).
int groupwise(int argc, char** argv);
int lut(int argc, char** argv);
int int8(int argc, char** argv);
int dense(int argc, char** argv);
int attention(int argc, char** argv);
int attention_fused(int argc, char** argv);
int rows(int argc, char** argv);
int rotary(int argc, char** argv);
int selftest(int argc, char** argv);
int argmax(int argc, char** argv);


}  // namespace checks
