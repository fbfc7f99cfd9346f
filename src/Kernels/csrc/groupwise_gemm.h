// Group-wise quantized weights (ZeroQuant / compressed-tensors pack-quantized): W [N, K] as b-bit codes u (b = 4
// or 8), 32/b codes per int32 word along K (code k of a row in bits b·(k mod 32/b) of word k·b/32, compressed-
// tensors' pack_to_int32 layout), with a float32 scale s and a uint8 zero point z per (row, group of G columns):
// W[n, k] = (u[n, k] − z[n, k/G]) · s[n, k/G]. zeros == nullptr means symmetric (z = 2^(b−1) everywhere).
// G must be a multiple of 32 and K a multiple of G.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

// Rows per token tile of the streaming kernels (A16, A8); larger M runs several tiles (grid.y), each reading the
// weights again.
constexpr int kGroupwiseA16TileRows = 32;
constexpr int kGroupwiseTileRows = 64;

// A16: y [M, N] = x [M, K] · Wᵀ + bias, x/y/bias in dtype (1 = float16, 2 = bfloat16). The weights are streamed with
// 16-byte loads and dequantized in registers into tensor-core fragments; nothing dequantized is written to memory.
// x rows must start on 16-byte boundaries (x_stride in elements, a multiple of 8).
cudaError_t launch_groupwise_gemm_a16(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                      const uint8_t* zeros, const void* bias, int m, int n, int k, int bits, int group,
                                      int64_t x_stride, int64_t y_stride, cudaStream_t stream);

// The A16 kernel for INT4 codes, G = 128·2^s and K a multiple of 256 (groupwise_a16_aligned.cu), which launch_groupwise_gemm_a16 takes
// where it applies: the same sums as the general streaming kernel with fewer instructions per weight byte. Same
// preconditions as launch_groupwise_gemm_a16 (x rows on 16-byte boundaries), which it does not check again.
// INFERENCE_GROUPWISE_A16_ALIGNED=0 turns it off (for comparisons).
bool groupwise_a16_aligned_supports(int bits, int group, int k);
cudaError_t launch_groupwise_gemm_a16_aligned(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                              const uint8_t* zeros, const void* bias, int m, int n, int k, int group, int64_t x_stride,
                                              int64_t y_stride, cudaStream_t stream);

// The aligned kernel for the gated MLP's gate/up projection, W = [gate; up] (n = 2·I rows): y [M, I] =
// silu(x·gateᵀ + b_gate)·(x·upᵀ + b_up), each product rounded to the dtype first, which is bit-equal to
// launch_groupwise_gemm_a16_aligned into [M, 2I] then launch_silu_mul; the [M, 2I] projection is never written. Where
// groupwise_a16_gated_supports: INT4, the aligned kernel's G and K, 1-16 tokens, n even (INFERENCE_GROUPWISE_GATED_EPILOGUE=0:
// never, for comparisons).
bool groupwise_a16_gated_supports(int bits, int group, int m, int n, int k);
cudaError_t launch_groupwise_gemm_a16_gated(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                            const uint8_t* zeros, const void* bias, int m, int n, int k, int group, int64_t x_stride,
                                            int64_t y_stride, cudaStream_t stream);

// A8: y[m, n] = x_scale[m] · Σ_g s[n,g] · Σ_{k∈g} xq[m,k] · (u[n,k] − z[n,g]) + bias[n]: int8 tensor-core sums per
// group (exact int32), scaled into float accumulators. y/bias in out_dtype (0 float32, 1 float16, 2 bfloat16).
// xq rows must start on 8-byte boundaries.
cudaError_t launch_groupwise_gemm_a8(int out_dtype, void* y, const int8_t* xq, const float* x_scale, const int32_t* packed,
                                     const float* scales, const uint8_t* zeros, const void* bias, int m, int n, int k,
                                     int bits, int group, int64_t x_stride, int64_t y_stride, cudaStream_t stream);

// w [N, K] in dtype (0 float32, 1 float16, 2 bfloat16) = (u − z) · s computed in float: the prefill path's temporary
// operand for a dense GEMM, and the tests' reference.
cudaError_t launch_groupwise_dequantize(int dtype, void* w, const int32_t* packed, const float* scales,
                                        const uint8_t* zeros, int n, int k, int bits, int group, cudaStream_t stream);

// Hopper (sm_90a builds on compute capability 9.0): the A16 GEMM for INT4 codes and G a multiple of 128, with
// TMA-streamed weights dequantized into warpgroup-MMA fragments (groupwise_gemm_sm90.cu), taken at 17-128 rows
// (INFERENCE_GROUPWISE_SM90=0: never; INFERENCE_GROUPWISE_SM90_ALL_M=1: at every M). x rows must start on 16-byte
// boundaries.
bool groupwise_gemm_sm90_supports(int bits, int group, int64_t m, const void* x, int64_t x_stride, cudaStream_t stream);
cudaError_t launch_groupwise_gemm_a16_sm90(int dtype, void* y, const void* x, const int32_t* packed, const float* scales,
                                           const uint8_t* zeros, const void* bias, int m, int n, int k, int group, int64_t x_stride,
                                           int64_t y_stride, cudaStream_t stream);
