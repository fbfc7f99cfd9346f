// Greedy sampling's argmax (argmax.cu) against torch.argmax's rule, index for index: NaN beats any number, a larger
// value a smaller one, and of equal values (or NaNs) the lower index wins.
#include <cmath>
#include "check_support.h"
#include "fused_ops.h"

namespace checks {

// kernel-checks argmax DTYPE ROWS COLS random|ties|nan|neginf
int argmax(int argc, char** argv) {
  if (argc != 6) usage("argmax takes 4 arguments");
  const Dtype t = parse_dtype(argv[2]);
  const int rows = to_int(argv[3]), cols = to_int(argv[4]);
  const std::string kind = argv[5];
  const int64_t stride = cols + 8;  // strided rows: the padding holds the largest values, which must not be read
  std::vector<float> x((size_t)rows * stride);
  for (int r = 0; r < rows; r++)
    for (int64_t c = 0; c < stride; c++) {
      float v = c >= cols ? 1e4f : kind == "ties" ? (float)(rng()() % 4) : t.round(normal() * 3);
      if (kind == "nan" && c < cols && rng()() % 997 == 0) v = std::nanf("");
      if (kind == "neginf" && c < cols && (r == 0 || rng()() % 3 == 0)) v = -INFINITY;  // row 0 all −inf
      x[(size_t)r * stride + c] = v;
    }
  if (kind == "nan" && rows > 1) x[(size_t)stride + cols - 1] = std::nanf("");  // row 1: a NaN in the last column at least
  Buffer<uint8_t> xb(x.size() * t.bytes());
  for (size_t i = 0; i < x.size(); i++) t.store(xb.p, i, x[i]);
  const int parts = argmax_parts(cols);
  Buffer<float> part_v((size_t)rows * parts);
  Buffer<int> part_i((size_t)rows * parts);
  Buffer<int64_t> out(rows);
  const cudaError_t err = launch_argmax_rows(t.code, out.p, xb.p, rows, cols, stride, part_v.p, part_i.p, nullptr);
  if (err != cudaSuccess) {
    std::printf("FAIL argmax: launch returned %d\n", (int)err);
    return 1;
  }
  int wrong = 0;
  for (int r = 0; r < rows; r++) {
    int best = 0;
    for (int c = 1; c < cols; c++) {
      const float v = t.load(xb.p, (size_t)r * stride + c), b = t.load(xb.p, (size_t)r * stride + best);
      if (std::isnan(b)) break;
      if (std::isnan(v) || v > b) best = c;
    }
    if (out[r] != best) {
      if (wrong++ < 5) std::printf("row %d: kernel %lld, torch.argmax's rule %d\n", r, (long long)out[r], best);
    }
  }
  std::printf("%s argmax %s %s: %d rows of %d, %d wrong (%d parts)\n", wrong ? "FAIL" : "ok", argv[2], kind.c_str(), rows, cols, wrong, parts);
  return wrong ? 1 : 0;
}

}  // namespace checks
