// C ABI of the group-wise (ZeroQuant / compressed-tensors pack-quantized) GEMMs: packed int32 words [N, K·b/32],
// float32 scales [N, K/G], uint8 zero points [N, K/G] (or null: symmetric). See groupwise_gemm.h for the math.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <string>
#include "api_common.h"
#include "fused_ops.h"
#include "groupwise_gemm.h"

namespace {
using ik::check;
using ik::check_launch;

// Above this many rows W is dequantized into a temporary [N, K] tensor (freed after the call) and cuBLAS runs the
// GEMM: the streaming kernels re-read and re-dequantize the weights for every token tile.
constexpr int64_t kDenseMinRows = 129;

// Checks the weight tensors and returns K; bits and group are checked against their shapes.
int64_t check_weight(const at::Tensor& packed, const at::Tensor& scales, const at::Tensor* zeros, int bits, int group, const char* what) {
  const std::string w(what);
  check(bits == 4 || bits == 8, w + ": bits must be 4 or 8");
  check(group >= 32 && group % 32 == 0, w + ": group size must be a positive multiple of 32 on CUDA");
  check(packed.is_cuda() && scales.is_cuda(), w + ": weights must be on CUDA");
  check(packed.scalar_type() == at::kInt && packed.dim() == 2 && packed.is_contiguous(), w + ": packed must be [N, K·bits/32] int32 contiguous");
  check(ik::aligned16(packed), w + ": packed must start on a 16-byte boundary");
  const int64_t N = packed.size(0), K = packed.size(1) * (32 / bits);
  check(K % group == 0, w + ": K must be a multiple of the group size");
  check(scales.scalar_type() == at::kFloat && scales.is_contiguous() && scales.dim() == 2 && scales.size(0) == N && scales.size(1) == K / group,
        w + ": scales must be [N, K/G] float32 contiguous");
  if (zeros) {
    check(zeros->is_cuda() && zeros->scalar_type() == at::kByte && zeros->is_contiguous() && zeros->sizes() == scales.sizes(),
          w + ": zeros must be [N, K/G] uint8 contiguous on CUDA, like scales");
  }
  check(packed.get_device() == scales.get_device() && (!zeros || zeros->get_device() == packed.get_device()), w + ": weights on different devices");
  return K;
}

void check_bias(const at::Tensor* bias, const at::Tensor& out, int64_t N, const char* what) {
  check(bias == nullptr || (bias->is_cuda() && bias->is_contiguous() && bias->numel() == N && bias->scalar_type() == out.scalar_type()),
        std::string(what) + ": bias must be [N] contiguous in out's dtype");
}

// The A16 entries' input (x, gate_up or the residual: [M, ·]) and out: on CUDA, out [M, N] contiguous in the input's
// dtype (float16 or bfloat16), the input on the weights' device, bias [N] or null.
void check_a16_operands(const at::Tensor& in, const at::Tensor& out, const at::Tensor& packed, const at::Tensor* bias, int64_t N, const char* what) {
  const std::string w(what);
  check(in.is_cuda() && out.is_cuda(), w + ": the input and out must be on CUDA");
  check(out.dim() == 2 && out.is_contiguous() && out.size(0) == in.size(0) && out.size(1) == N, w + ": out must be [M, N] contiguous");
  check(in.scalar_type() == out.scalar_type() && (in.scalar_type() == at::kHalf || in.scalar_type() == at::kBFloat16),
        w + ": the input and out must share float16 or bfloat16");
  check(in.get_device() == packed.get_device(), w + ": the input and the weights are on different devices");
  check_bias(bias, out, N, what);
}

// out [M, N] = x [M, K] · dequant(W)ᵀ + bias on the checked tensors of ik_groupwise_gemm, on the current stream.
void run_a16(at::Tensor& out, const at::Tensor& x, const at::Tensor& packed, const at::Tensor& scales, const at::Tensor* zeros, const at::Tensor* bias,
             int bits, int group, int64_t M, int64_t N, int64_t K) {
  auto stream = at::cuda::getCurrentCUDAStream();
  if (groupwise_gemm_sm90_supports(bits, group, M, x.data_ptr(), x.stride(0), stream)) {
    check_launch(launch_groupwise_gemm_a16_sm90(ik::dtype_code(x.scalar_type()), out.data_ptr(), x.data_ptr(), packed.data_ptr<int32_t>(),
                                                scales.data_ptr<float>(), zeros ? zeros->data_ptr<uint8_t>() : nullptr,
                                                bias ? bias->data_ptr() : nullptr, (int)M, (int)N, (int)K, group, x.stride(0), N, stream),
                 "groupwise_gemm_sm90");
    return;
  }
  if (M >= kDenseMinRows) {
    at::Tensor w = at::empty({N, K}, x.options());
    check_launch(launch_groupwise_dequantize(ik::dtype_code(x.scalar_type()), w.data_ptr(), packed.data_ptr<int32_t>(), scales.data_ptr<float>(),
                                             zeros ? zeros->data_ptr<uint8_t>() : nullptr, (int)N, (int)K, bits, group, stream),
                 "groupwise_dequantize");
    if (bias) at::addmm_out(out, *bias, x, w.t());
    else at::mm_out(out, x, w.t());
    return;
  }
  // A view can start mid-row or have an odd row stride; the kernel moves 16-byte pieces, so such an x is copied once.
  const at::Tensor xa = ik::aligned16(x) && x.stride(0) % 8 == 0 ? x : x.contiguous().clone();
  check_launch(launch_groupwise_gemm_a16(ik::dtype_code(x.scalar_type()), out.data_ptr(), xa.data_ptr(), packed.data_ptr<int32_t>(),
                                         scales.data_ptr<float>(), zeros ? zeros->data_ptr<uint8_t>() : nullptr, bias ? bias->data_ptr() : nullptr,
                                         (int)M, (int)N, (int)K, bits, group, xa.stride(0), N, stream),
               "groupwise_gemm");
}

// Whether x can go to the aligned streaming kernel's epilogue variants as it is: rows run_a16 would not give the
// Hopper kernel, starting on 16-byte boundaries.
bool streams_x(int bits, int group, int64_t M, const at::Tensor& x, cudaStream_t stream) {
  return !groupwise_gemm_sm90_supports(bits, group, M, x.data_ptr(), x.stride(0), stream) && ik::aligned16(x) && x.stride(0) % 8 == 0;
}

}  // namespace

extern "C" {

// out [M, N] = x [M, K] · dequant(W)ᵀ + bias, x/out/bias float16 or bfloat16. M ≤ 128: the streaming kernel (packed
// weights read once per 32 rows, dequantized in registers); larger M: W dequantized into a temporary, then cuBLAS.
// Where groupwise_gemm_sm90_supports says so (Hopper, 17-128 rows, INT4, G a multiple of 128): the TMA + wgmma kernel.
int ik_groupwise_gemm(at::Tensor* out, at::Tensor* x, at::Tensor* packed, at::Tensor* scales, at::Tensor* zeros, at::Tensor* bias, int bits, int group) {
  IK_TRY
  const int64_t K = check_weight(*packed, *scales, zeros, bits, group, "groupwise_gemm");
  const int64_t N = packed->size(0);
  check(x->dim() == 2 && x->stride(1) == 1 && x->size(1) == K, "groupwise_gemm: x must be [M, K] with contiguous rows (K from packed)");
  check_a16_operands(*x, *out, *packed, bias, N, "groupwise_gemm");
  const int64_t M = x->size(0);
  if (M == 0) return 0;
  c10::cuda::CUDAGuard guard(x->device());
  run_a16(*out, *x, *packed, *scales, zeros, bias, bits, group, M, N, K);
  return 0;
  IK_CATCH(-1)
}

// out [M, I] = silu(x·gateᵀ + b_gate)·(x·upᵀ + b_up) for W = [gate; up] [2I, K], bias [2I] or null: the gated MLP's
// gate/up projection and its activation, bit-equal to ik_groupwise_gemm then ik_silu_mul. Where the aligned kernel
// takes these rows (groupwise_a16_gated_supports, not the Hopper kernel's rows) it stores the activation from its
// epilogue; otherwise the projection goes into a temporary [M, 2I] for silu_mul.
int ik_groupwise_gemm_gated(at::Tensor* out, at::Tensor* x, at::Tensor* packed, at::Tensor* scales, at::Tensor* zeros, at::Tensor* bias, int bits,
                            int group) {
  IK_TRY
  const int64_t K = check_weight(*packed, *scales, zeros, bits, group, "groupwise_gemm_gated");
  const int64_t N = packed->size(0);
  check(N % 2 == 0, "groupwise_gemm_gated: W must be [gate; up], an even number of rows");
  check(x->dim() == 2 && x->stride(1) == 1 && x->size(1) == K, "groupwise_gemm_gated: x must be [M, K] with contiguous rows (K from packed)");
  check_a16_operands(*x, *out, *packed, nullptr, N / 2, "groupwise_gemm_gated");
  check_bias(bias, *out, N, "groupwise_gemm_gated");
  const int64_t M = x->size(0);
  if (M == 0) return 0;
  c10::cuda::CUDAGuard guard(x->device());
  auto stream = at::cuda::getCurrentCUDAStream();
  const int dtype = ik::dtype_code(x->scalar_type());
  if (groupwise_a16_gated_supports(bits, group, (int)M, (int)N, (int)K) && streams_x(bits, group, M, *x, stream)) {
    check_launch(launch_groupwise_gemm_a16_gated(dtype, out->data_ptr(), x->data_ptr(), packed->data_ptr<int32_t>(), scales->data_ptr<float>(),
                                                 zeros ? zeros->data_ptr<uint8_t>() : nullptr, bias ? bias->data_ptr() : nullptr, (int)M, (int)N,
                                                 (int)K, group, x->stride(0), N / 2, stream),
                 "groupwise_gemm_gated");
    return 0;
  }
  at::Tensor gate_up = at::empty({M, N}, x->options());
  run_a16(gate_up, *x, *packed, *scales, zeros, bias, bits, group, M, N, K);
  check_launch(launch_silu_mul(dtype, out->data_ptr(), gate_up.data_ptr(), (int)M, (int)(N / 2), stream), "silu_mul");
  return 0;
  IK_CATCH(-1)
}

// out [M, N] = x_scale[m] · (xq [M, K] int8 · (codes − zeros)ᵀ per group · scales) + bias; out float32/float16/bfloat16.
// M ≤ 128: the int8 tensor-core kernel (exact int32 sums per group). Larger M: the INT8 rows dequantized (xq · x_scale)
// and W dequantized, both in out's dtype, then cuBLAS.
int ik_groupwise_gemm_a8(at::Tensor* out, at::Tensor* xq, at::Tensor* x_scale, at::Tensor* packed, at::Tensor* scales, at::Tensor* zeros,
                         at::Tensor* bias, int bits, int group) {
  IK_TRY
  const int64_t K = check_weight(*packed, *scales, zeros, bits, group, "groupwise_gemm_a8");
  const int64_t N = packed->size(0);
  check(xq->is_cuda() && x_scale->is_cuda() && out->is_cuda(), "groupwise_gemm_a8: tensors must be on CUDA");
  check(xq->scalar_type() == at::kChar && xq->dim() == 2 && xq->is_contiguous() && xq->size(1) == K, "groupwise_gemm_a8: xq must be [M, K] int8 contiguous");
  check(x_scale->scalar_type() == at::kFloat && x_scale->is_contiguous() && x_scale->numel() == xq->size(0), "groupwise_gemm_a8: x_scale must be [M] float32");
  check(out->dim() == 2 && out->is_contiguous() && out->size(0) == xq->size(0) && out->size(1) == N, "groupwise_gemm_a8: out must be [M, N] contiguous");
  check(xq->get_device() == packed->get_device(), "groupwise_gemm_a8: activations and weights are on different devices");
  check_bias(bias, *out, N, "groupwise_gemm_a8");
  const int64_t M = xq->size(0);
  if (M == 0) return 0;
  c10::cuda::CUDAGuard guard(xq->device());
  if (M >= kDenseMinRows) {
    const auto dt = out->scalar_type();
    at::Tensor w = at::empty({N, K}, out->options());
    check_launch(launch_groupwise_dequantize(ik::dtype_code(dt), w.data_ptr(), packed->data_ptr<int32_t>(), scales->data_ptr<float>(),
                                             zeros ? zeros->data_ptr<uint8_t>() : nullptr, (int)N, (int)K, bits, group,
                                             at::cuda::getCurrentCUDAStream()),
                 "groupwise_dequantize");
    const at::Tensor xd = xq->to(at::kFloat).mul_(x_scale->unsqueeze(1)).to(dt);
    if (bias) at::addmm_out(*out, *bias, xd, w.t());
    else at::mm_out(*out, xd, w.t());
    return 0;
  }
  const at::Tensor xa = ik::aligned16(*xq) ? *xq : xq->clone();
  check_launch(launch_groupwise_gemm_a8(ik::dtype_code(out->scalar_type()), out->data_ptr(), xa.data_ptr<int8_t>(), x_scale->data_ptr<float>(),
                                        packed->data_ptr<int32_t>(), scales->data_ptr<float>(), zeros ? zeros->data_ptr<uint8_t>() : nullptr,
                                        bias ? bias->data_ptr() : nullptr, (int)M, (int)N, (int)K, bits, group, xa.stride(0), N,
                                        at::cuda::getCurrentCUDAStream()),
               "groupwise_gemm_a8");
  return 0;
  IK_CATCH(-1)
}

// out [N, K] (float32, float16 or bfloat16) = (codes − zeros) · scales, computed in float.
int ik_groupwise_dequantize(at::Tensor* out, at::Tensor* packed, at::Tensor* scales, at::Tensor* zeros, int bits, int group) {
  IK_TRY
  const int64_t K = check_weight(*packed, *scales, zeros, bits, group, "groupwise_dequantize");
  const int64_t N = packed->size(0);
  check(out->is_cuda() && out->dim() == 2 && out->is_contiguous() && out->size(0) == N && out->size(1) == K,
        "groupwise_dequantize: out must be [N, K] contiguous on CUDA");
  c10::cuda::CUDAGuard guard(packed->device());
  check_launch(launch_groupwise_dequantize(ik::dtype_code(out->scalar_type()), out->data_ptr(), packed->data_ptr<int32_t>(), scales->data_ptr<float>(),
                                           zeros ? zeros->data_ptr<uint8_t>() : nullptr, (int)N, (int)K, bits, group,
                                           at::cuda::getCurrentCUDAStream()),
               "groupwise_dequantize");
  return 0;
  IK_CATCH(-1)
}

}  // extern "C"
