// kernel-checks: runs one of the CUDA kernels under the emulator (include/simt.h) on random data and compares every
// output with a reference computed in double from the packed formats' definitions (groupwise_gemm.h, lut_gemm.h,
// int8_gemm.h, skinny_gemm.h), element by element against an error bound from the kernel's rounding (stated at each
// check). Also checks that nothing outside y's [M, N] window (rows are strided) is written. AddressSanitizer reports any
// read or write outside the buffers, each allocated at its exact size.
//
//   kernel-checks groupwise a16|a16-sm90|a16-gated|a8|dequant bf16|fp16|fp32 BITS sym|asym GROUP M N K
//   kernel-checks lut table|stream|mma|sm90|dequant bf16|fp16|fp32 f32|f16 Q GROUP M N K SPLITS X_OFFSET
//   kernel-checks int8 tiled|skinny|sm90|sm90-skinny fp32|fp16|bf16 M N K    (W8A8; y in that dtype)
//   kernel-checks dense skinny bf16|fp16 M N K                              (the 16-bit skinny GEMM)
//   kernel-checks attention fp32|fp16|bf16 B H KV D BLOCK_SIZE MAX_CONTEXT WINDOW SPLITS   (paged decode attention)
//   kernel-checks attention-fused DTYPE B H KV D BLOCK_SIZE MAX_CONTEXT WINDOW SPLITS ROW_PAD ROPE CLUSTER
//                                      (with the rotary and cache write inside, splits merged in a cluster)
//   kernel-checks rows quantize|rms-quant|add-rms-quant|silu-quant|rms|add-rms|silu DTYPE ROWS WIDTH STATIC_SCALE
//   kernel-checks rotary DTYPE TOKENS HEADS KV_HEADS HEAD_DIM ROW_PAD    (rotary embedding + KV-cache write)
//   kernel-checks argmax DTYPE ROWS COLS random|ties|nan|neginf   (greedy sampling's argmax, index for index)
//   kernel-checks selftest divergence|barrier      (the emulator's own detection of divergence and missing barriers)
//
// Prints one line with the worst error relative to its bound; exits 1 when any output is out of bounds.
#include "check_support.h"

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) checks::usage("no family given");
  const std::string family = argv[1];
  if (family == "groupwise") return checks::groupwise(argc, argv);
  if (family == "lut") return checks::lut(argc, argv);
  if (family == "int8") return checks::int8(argc, argv);
  if (family == "dense") return checks::dense(argc, argv);
  if (family == "attention") return checks::attention(argc, argv);
  if (family == "attention-fused") return checks::attention_fused(argc, argv);
  if (family == "rows") return checks::rows(argc, argv);
  if (family == "rotary") return checks::rotary(argc, argv);
  if (family == "argmax") return checks::argmax(argc, argv);
  if (family == "selftest") return checks::selftest(argc, argv);
  checks::usage(("unknown family " + family).c_str());
}

