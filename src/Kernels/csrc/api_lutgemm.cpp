// C ABI of the LUT-GEMM family (lut_gemm.cu): BCQ weights in the layout of src/Quant/Formats/BcqWeights.cs, on the
// device unchanged. Same conventions as api.cpp: tensors come as at::Tensor*, failures return -1 with the message in
// ik_last_error, launches go to ATen's current stream, scratch memory comes from the caching allocator (so a CUDA
// graph capture takes it from the graph's pool).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <algorithm>
#include <string>
#include "api_common.h"
#include "lut_gemm.h"

namespace {
using ik::aligned16;
using ik::check;
using ik::check_launch;
using ik::dtype_code;

// signs int32 [q, ceil(K/32), N], alpha [q, ceil(K/G), N] and offset [ceil(K/G), N] both float32 or both float16, all
// contiguous on x's device, 16-byte aligned; G a multiple of 32, N a multiple of 4. Returns q.
int check_bcq(const at::Tensor& signs, const at::Tensor& alpha, const at::Tensor& offset, int64_t n, int64_t k, int group,
              const at::Device& device, const char* what) {
  const std::string w(what);
  check(signs.is_cuda() && alpha.is_cuda() && offset.is_cuda(), w + ": BCQ tensors must be on CUDA");
  check(signs.device() == device && alpha.device() == device && offset.device() == device, w + ": BCQ tensors must be on one device");
  check(signs.scalar_type() == at::kInt && alpha.scalar_type() == offset.scalar_type() &&
            (alpha.scalar_type() == at::kFloat || alpha.scalar_type() == at::kHalf),
        w + ": signs must be int32, alpha and offset both float32 or both float16");
  check(signs.is_contiguous() && alpha.is_contiguous() && offset.is_contiguous(), w + ": BCQ tensors must be contiguous");
  check(group > 0 && group % 32 == 0, w + ": the CUDA kernels need a group size that is a multiple of 32 (got " + std::to_string(group) + ")");
  check(signs.dim() == 3 && signs.size(0) >= 1 && signs.size(0) <= 4, w + ": signs must be [q, W, N] with q = 1..4");
  const int64_t q = signs.size(0), words = (k + 31) / 32, groups = (k + group - 1) / group;
  check(signs.size(1) == words && signs.size(2) == n, w + ": signs must be [q, ceil(K/32), N]");
  check(alpha.dim() == 3 && alpha.size(0) == q && alpha.size(1) == groups && alpha.size(2) == n, w + ": alpha must be [q, ceil(K/G), N]");
  check(offset.dim() == 2 && offset.size(0) == groups && offset.size(1) == n, w + ": offset must be [ceil(K/G), N]");
  check(n % 4 == 0, w + ": N must be a multiple of 4 (16-byte loads of sign words), got " + std::to_string(n));
  check(aligned16(signs) && aligned16(alpha) && aligned16(offset), w + ": BCQ tensors must start on 16-byte boundaries");
  return (int)q;
}

// The kernels' scale dtype code: 0 float32, 1 float16.
int scale_code(const at::Tensor& alpha) { return alpha.scalar_type() == at::kHalf ? 1 : 0; }
}  // namespace

extern "C" {

// out [M, N] = x [M, K] · Wᵀ + bias, W the BCQ weights. x rows contiguous (unit stride along K), out contiguous, both
// in one dtype (float32, float16, bfloat16), bias [N] in that dtype or null. kernel: 0 = automatic (for float16/bfloat16
// the streaming kernel from kBcqStreamMinRows to kBcqStreamMaxRows rows where bcq_stream_supports says so; else the
// table kernel for M ≤ 8; above, when K is a multiple of 8, the warpgroup-MMA kernel
// up to kBcqSm90MaxRows rows where bcq_gemm_sm90_supports says so, else W dequantized into a temporary and multiplied
// by cuBLAS),
// 1 = table kernel (any M, 8 rows per launch),
// 2 = tensor-core kernel (float16/bfloat16, K a multiple of 8; the warpgroup-MMA one where bcq_gemm_sm90_supports says so,
// else the mma.sync one),
// 3 = streaming kernel (any M, where bcq_stream_supports says so).
int ik_lutgemm(at::Tensor* out, at::Tensor* x, at::Tensor* signs, at::Tensor* alpha, at::Tensor* offset, at::Tensor* bias, int group,
               int kernel) {
  IK_TRY
  check(x->is_cuda() && out->is_cuda(), "lutgemm: x and out must be on CUDA");
  check(x->dim() == 2 && x->stride(1) == 1 && out->dim() == 2 && out->is_contiguous(), "lutgemm: x [M,K] with contiguous rows and out [M,N] contiguous");
  const int64_t M = x->size(0), K = x->size(1), N = out->size(1);
  check(out->size(0) == M && x->device() == out->device(), "lutgemm: out must be [M, N] on x's device");
  check(x->scalar_type() == out->scalar_type(), "lutgemm: x and out must share a dtype");
  const int dt = dtype_code(x->scalar_type());
  const int q = check_bcq(*signs, *alpha, *offset, N, K, group, x->device(), "lutgemm");
  check(bias == nullptr || (bias->is_cuda() && bias->is_contiguous() && bias->numel() == N && bias->scalar_type() == out->scalar_type()),
        "lutgemm: bias must be [N] contiguous in out's dtype");
  check(kernel >= 0 && kernel <= 3, "lutgemm: kernel must be 0 (auto), 1 (table), 2 (tensor core) or 3 (streaming)");
  if (M == 0) return 0;
  c10::cuda::CUDAGuard guard(x->device());
  const int sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  auto stream = at::cuda::getCurrentCUDAStream();
  const auto* s = reinterpret_cast<const uint32_t*>(signs->data_ptr<int32_t>());
  const void* b = bias ? bias->data_ptr() : nullptr;
  const bool try_stream =
      kernel == 3 || (kernel == 0 && bcq_stream_automatic() && M >= kBcqStreamMinRows && M <= kBcqStreamMaxRows && dt != 0);
  const bool tensor_cores = kernel == 2 || (kernel == 0 && M > kLutMaxRows && dt != 0 && K % 8 == 0);
  // The MMA kernels move 16-byte pieces of x; a view that starts mid-row or has an odd row stride is copied once.
  const at::Tensor xa = (try_stream || tensor_cores) && !(aligned16(*x) && x->stride(0) % 8 == 0) ? x->contiguous().clone() : *x;
  if (try_stream) {
    if (bcq_stream_supports(dt, (int)N, (int)K, group, xa.data_ptr(), xa.stride(0))) {
      check_launch(launch_bcq_stream(dt, out->data_ptr(), xa.data_ptr(), s, alpha->data_ptr(), offset->data_ptr(), scale_code(*alpha), b, (int)M,
                                     (int)N, (int)K, q, group, xa.stride(0), N, stream),
                   "lutgemm (streaming)");
      return 0;
    }
    check(kernel == 0, "lutgemm: the streaming kernel takes float16 or bfloat16, a power-of-two group of at least 128 and N a multiple of 8");
  }
  if (tensor_cores) {
    check(dt != 0, "lutgemm: the tensor-core kernel takes float16 or bfloat16");
    check(K % 8 == 0, "lutgemm: the tensor-core kernel needs K a multiple of 8");
    if ((kernel == 2 || M <= kBcqSm90MaxRows) && bcq_gemm_sm90_supports(dt, group, xa.data_ptr(), xa.stride(0), stream)) {
      check_launch(launch_bcq_gemm_sm90(dt, out->data_ptr(), xa.data_ptr(), s, alpha->data_ptr(), offset->data_ptr(), scale_code(*alpha), b, (int)M,
                                        (int)N, (int)K, q, group, xa.stride(0), N, stream),
                   "lutgemm (tensor cores, Hopper)");
      return 0;
    }
    if (kernel == 0) {
      // Above the table kernel's rows the dequantize-then-cuBLAS path beats the mma.sync tensor-core kernel: on an H200,
      // geometric mean over Llama-3-8B's and OPT-175B's shapes at q = 3, 1.20× faster at M = 16 and 9.2× at M = 1024
      // (docs/benchmarks/h200-lutgemm-kernels.json: q3_dequant_gemm_us against q3_lut_us, kernel tensor_core).
      at::Tensor w = at::empty({N, K}, x->options());
      check_launch(launch_bcq_dequantize(dt, w.data_ptr(), s, alpha->data_ptr(), offset->data_ptr(), scale_code(*alpha), (int)N, (int)K, q, group,
                                         stream),
                   "lutgemm (dequantize)");
      if (bias) at::addmm_out(*out, *bias, *x, w.t());
      else at::mm_out(*out, *x, w.t());
      return 0;
    }
    const int splits = bcq_mma_splits((int)M, (int)N, (int)K, sms);
    at::Tensor ws = splits > 1 ? at::empty({splits, M, N}, x->options().dtype(at::kFloat)) : at::Tensor();
    check_launch(launch_bcq_mma(dt, out->data_ptr(), splits > 1 ? ws.data_ptr<float>() : nullptr, xa.data_ptr(), s, alpha->data_ptr(),
                                offset->data_ptr(), scale_code(*alpha), b, (int)M, (int)N, (int)K, q, group, xa.stride(0), N, splits, stream),
                 "lutgemm (tensor cores)");
    return 0;
  }
  // The table kernel, 8 rows per launch; one workspace serves every launch (they run in order on the stream).
  const int rows = (int)std::min<int64_t>(M, kLutMaxRows);
  const int splits = lut_gemm_splits(rows, (int)N, (int)K, sms);
  at::Tensor ws = splits > 1 ? at::empty({splits, (int64_t)rows, N}, x->options().dtype(at::kFloat)) : at::Tensor();
  const int64_t elem = x->element_size();
  for (int64_t m0 = 0; m0 < M; m0 += kLutMaxRows) {
    const int mr = (int)std::min<int64_t>(kLutMaxRows, M - m0);
    const int sp = lut_gemm_splits(mr, (int)N, (int)K, sms);
    const char* xp = static_cast<const char*>(x->data_ptr()) + m0 * x->stride(0) * elem;
    char* yp = static_cast<char*>(out->data_ptr()) + m0 * N * elem;
    check_launch(launch_lut_gemm(dt, yp, sp > 1 ? ws.data_ptr<float>() : nullptr, xp, s, alpha->data_ptr(), offset->data_ptr(), scale_code(*alpha), b,
                                 mr, (int)N, (int)K, q, group, x->stride(0), N, sp, stream),
                 "lutgemm (tables)");
  }
  return 0;
  IK_CATCH(-1)
}

// w [N, K] (contiguous, float32/float16/bfloat16) ← Σ_i α·b + offset: the first half of the dequantize-then-GEMM
// baseline (benchmarks only; serving never keeps a dequantized copy).
int ik_bcq_dequantize(at::Tensor* w, at::Tensor* signs, at::Tensor* alpha, at::Tensor* offset, int group) {
  IK_TRY
  check(w->is_cuda() && w->dim() == 2 && w->is_contiguous(), "bcq_dequantize: w must be [N, K] contiguous on CUDA");
  const int64_t N = w->size(0), K = w->size(1);
  const int q = check_bcq(*signs, *alpha, *offset, N, K, group, w->device(), "bcq_dequantize");
  if (N == 0 || K == 0) return 0;
  check(aligned16(*w), "bcq_dequantize: w must start on a 16-byte boundary");
  c10::cuda::CUDAGuard guard(w->device());
  check_launch(launch_bcq_dequantize(dtype_code(w->scalar_type()), w->data_ptr(), reinterpret_cast<const uint32_t*>(signs->data_ptr<int32_t>()),
                                     alpha->data_ptr(), offset->data_ptr(), scale_code(*alpha), (int)N, (int)K, q, group,
                                     at::cuda::getCurrentCUDAStream()),
               "bcq_dequantize");
  return 0;
  IK_CATCH(-1)
}

}  // extern "C"
