// LUT-GEMM on binary-coded (BCQ) weights: y [M, N] = x [M, K] · Wᵀ + bias with
// W[n, k] = Σ_{i<q} α[i, g, n]·b[i, n, k] + offset[g, n], g = k / group, b ∈ {−1, +1}.
// Device layout = the host/checkpoint layout of src/Quant/Formats/BcqWeights.cs, unchanged:
//   signs  uint32 [q, W, N], W = ceil(K/32): bit j of word [i, w, n] is b[i, n, 32w + j] (1 → +1), bits past K are 0;
//   alpha  [q, G, N], G = ceil(K/group);
//   offset [G, N];
// alpha and offset in float32 (scale_dtype 0) or float16 (scale_dtype 1, what the engine uploads for 16-bit serving).
// Requirements (checked by the C ABI): group a multiple of 32, N a multiple of 4, pointers 16-byte aligned.
// dtype codes: 0 float32, 1 float16, 2 bfloat16 (x, y, bias, and the dequantized weights).
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

constexpr int kLutMaxRows = 8;  // the table kernel takes at most this many rows per launch

// Blocks along K (split-K) the table kernel uses for this shape; > 1 needs a float32 workspace [splits, M, N].
int lut_gemm_splits(int m, int n, int k, int sms);
// The same for the tensor-core kernel (M any, float16/bfloat16 only, K a multiple of 8).
int bcq_mma_splits(int m, int n, int k, int sms);

// Table kernel, M ≤ kLutMaxRows. workspace: float32 [splits, M, N] when splits > 1, else unused.
cudaError_t launch_lut_gemm(int dtype, void* y, float* workspace, const void* x, const uint32_t* signs, const void* alpha,
                            const void* offset, int scale_dtype, const void* bias, int m, int n, int k, int q, int group, int64_t x_stride,
                            int64_t y_stride, int splits, cudaStream_t stream);

// Tensor-core kernel: BCQ tiles dequantized into shared memory as float16/bfloat16, then mma.sync m16n8k16.
cudaError_t launch_bcq_mma(int dtype, void* y, float* workspace, const void* x, const uint32_t* signs, const void* alpha,
                           const void* offset, int scale_dtype, const void* bias, int m, int n, int k, int q, int group, int64_t x_stride,
                           int64_t y_stride, int splits, cudaStream_t stream);

// The dequantize-then-GEMM baseline's first half: w [N, K] row-major in dtype, every weight Σ α·b + offset.
cudaError_t launch_bcq_dequantize(int dtype, void* w, const uint32_t* signs, const void* alpha, const void* offset, int scale_dtype,
                                  int n, int k, int q, int group, cudaStream_t stream);

// The streaming tensor-core kernel (bcq_stream.cu): per bit-plane MMAs on ±1 fragments built from the sign words, α
// and the offset applied in float after them; float16/bfloat16, G = 128·2^s, N a multiple of 8, x rows on 16-byte
// boundaries (bcq_stream_supports). Token tiles of kBcqStreamTileTokens on grid.y. The automatic choice takes it from
// kBcqStreamMinRows to kBcqStreamMaxRows rows (INFERENCE_LUTGEMM_STREAM=0 turns that off): on an H100, q = 3, it
// beats the table kernel 4.6-7.6x at 8 rows and the Hopper tensor-core kernel 1.8-3.6x at 16
// (docs/benchmarks/h100-lutgemm-kernels-stream.json) and 1.20x at 32 (geometric mean), while at 64 the Hopper kernel
// is 1.16x faster (docs/benchmarks/h100-lutgemm-stream-vs-hopper.json); one row stays with the table kernel.
constexpr int kBcqStreamTileTokens = 32;
constexpr int kBcqStreamMinRows = 2;
constexpr int kBcqStreamMaxRows = 32;
bool bcq_stream_supports(int dtype, int n, int k, int group, const void* x, int64_t x_stride);
bool bcq_stream_automatic();  // unless INFERENCE_LUTGEMM_STREAM=0
cudaError_t launch_bcq_stream(int dtype, void* y, const void* x, const uint32_t* signs, const void* alpha, const void* offset, int scale_dtype,
                              const void* bias, int m, int n, int k, int q, int group, int64_t x_stride, int64_t y_stride,
                              cudaStream_t stream);

// Hopper (sm_90a builds on compute capability 9.0), float16/bfloat16, G a multiple of 128: the tensor-core path on
// warpgroup MMAs, BCQ tiles streamed by TMA and dequantized into register fragments (lut_gemm_sm90.cu). x rows must
// start on 16-byte boundaries. INFERENCE_LUTGEMM_SM90=0 turns it off (for comparisons). The automatic choice takes it for
// 9 to kBcqSm90MaxRows rows where the streaming kernel does not run, where it beats dequantize + cuBLAS
// (docs/benchmarks/h200-lutgemm-kernels.json).
constexpr int kBcqSm90MaxRows = 128;
bool bcq_gemm_sm90_supports(int dtype, int group, const void* x, int64_t x_stride, cudaStream_t stream);
cudaError_t launch_bcq_gemm_sm90(int dtype, void* y, const void* x, const uint32_t* signs, const void* alpha, const void* offset,
                                 int scale_dtype, const void* bias, int m, int n, int k, int q, int group, int64_t x_stride, int64_t y_stride,
                                 cudaStream_t stream);
