// The C ABI of the native library. Every function takes TorchSharp tensor handles (at::Tensor*), checks dtype,
// shape and device, launches on ATen's current stream, and reports failure through a thread-local error slot:
// no C++ exception ever crosses into .NET.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <cuda_profiler_api.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <atomic>
#include <optional>
#include <sstream>
#include <string>
#include "api_common.h"
#include "fused_ops.h"
#include "int8_gemm.h"
#include "paged_attention.h"
#include "quantize.h"
#include "skinny_gemm.h"

std::string& ik::last_error() {
  thread_local std::string message;
  return message;
}

namespace {
using ik::aligned16;
using ik::check;
using ik::check_launch;
using ik::dtype_code;

std::optional<c10::cuda::CUDAStream> g_capture_stream;
std::atomic<bool> g_force_mma_sync{false};  // tests and benchmarks compare the two large-M INT8 kernels

// Checks q [T, K] int8 contiguous and scale [T] float32 contiguous, both on CUDA.
void check_quantized(const at::Tensor& q, const at::Tensor& scale, const char* what) {
  check(q.is_cuda() && scale.is_cuda(), std::string(what) + ": tensors must be on CUDA");
  check(q.scalar_type() == at::kChar && q.dim() == 2 && q.is_contiguous(), std::string(what) + ": q must be [T,K] int8 contiguous");
  check(scale.scalar_type() == at::kFloat && scale.is_contiguous() && scale.numel() == q.size(0),
        std::string(what) + ": scale must be [T] float32 contiguous");
}

// Zero-pads the last dimension to a multiple of 16 (the GEMMs move 16-byte pieces); real models never need it.
at::Tensor pad_k16(const at::Tensor& t) {
  const int64_t k = t.size(1), pad = (16 - k % 16) % 16;
  return pad == 0 ? t : at::constant_pad_nd(t, {0, pad}, 0);
}

// The checks and the launch shared by the two paged decode entries: q [B, ≥ H·D] rows (heads contiguous, the
// unrotated qkv rows with rope), out [B,H,D], caches [slots,KV,D], tables [B,M] int32, lens [B] int32.
void paged_decode(at::Tensor* out, const at::Tensor& q, int64_t H, at::Tensor* k_cache, at::Tensor* v_cache, at::Tensor* tables,
                  at::Tensor* lens, double scale, int block_size, int window, const PagedRope* rope) {
  check(q.is_cuda() && k_cache->is_cuda() && v_cache->is_cuda() && tables->is_cuda() && lens->is_cuda() && out->is_cuda(),
        "paged attention: all tensors must be on CUDA");
  check(out->dim() == 3 && k_cache->dim() == 3 && v_cache->dim() == 3, "paged attention: out must be [B,H,D], caches [slots,KV,D]");
  check(q.scalar_type() == k_cache->scalar_type() && q.scalar_type() == v_cache->scalar_type() && q.scalar_type() == out->scalar_type(),
        "paged attention: q, caches and out must share a dtype");
  check(tables->scalar_type() == at::kInt && lens->scalar_type() == at::kInt, "paged attention: tables and lens must be int32");
  check(k_cache->is_contiguous() && v_cache->is_contiguous() && tables->is_contiguous() && lens->is_contiguous() && v_cache->sizes() == k_cache->sizes(),
        "paged attention: caches (of one shape), tables and lens must be contiguous");
  const int64_t B = out->size(0), D = out->size(2), KV = k_cache->size(1);
  check(out->stride(2) == 1 && out->stride(1) == D && q.stride(-1) == 1, "paged attention: heads must be contiguous in q and out");
  check(out->size(1) == H && q.size(0) == B && k_cache->size(2) == D && H % KV == 0, "paged attention: shape mismatch");
  check(tables->dim() == 2 && tables->size(0) == B && lens->numel() == B, "paged attention: tables must be [B,M] and lens [B]");
  check(D % 8 == 0 && D <= 256, "paged attention: head_dim must be a multiple of 8, at most 256");
  check(aligned16(q) && aligned16(*out) && aligned16(*k_cache) && aligned16(*v_cache) && q.stride(0) % 8 == 0 && out->stride(0) % 8 == 0,
        "paged attention: q, out and the caches must be 16-byte aligned with row strides a multiple of 8");
  c10::cuda::CUDAGuard guard(q.device());
  const bool cluster = paged_decode_cluster_enabled();
  const int splits = paged_decode_splits((int)B, (int)KV, (int)H, (int)tables->size(1) * block_size,
                                         at::cuda::getCurrentDeviceProperties()->multiProcessorCount,
                                         cluster ? paged_decode_cluster_splits() : kMaxSplits);
  // Allocated from the caching allocator, so inside a graph capture it comes from the graph's private pool.
  at::Tensor workspace = splits > 1 && !cluster ? at::empty({B, H, splits, D + 2}, q.options().dtype(at::kFloat)) : at::Tensor();
  check_launch(launch_paged_decode_attention(dtype_code(q.scalar_type()), out->data_ptr(), workspace.defined() ? workspace.data_ptr<float>() : nullptr,
                                             q.data_ptr(), k_cache->data_ptr(), v_cache->data_ptr(), tables->data_ptr<int32_t>(),
                                             lens->data_ptr<int32_t>(), (int)B, (int)H, (int)KV, (int)D, block_size, (int)tables->size(1),
                                             window, (float)scale, q.stride(0), out->stride(0), splits, cluster, rope, at::cuda::getCurrentCUDAStream()),
               "paged attention");
}

}  // namespace

extern "C" {

const char* ik_last_error() { return ik::last_error().c_str(); }

// out [B,H,D] = softmax(q·Kᵀ·scale)·V over each sequence's paged context.
// q [B,H,D] (last two dims contiguous), k/v cache [slots,KV,D] contiguous, tables [B,M] int32, lens [B] int32.
int ik_paged_decode_attention(at::Tensor* out, at::Tensor* q, at::Tensor* k_cache, at::Tensor* v_cache,
                              at::Tensor* tables, at::Tensor* lens, double scale, int block_size, int window) {
  IK_TRY
  check(q->dim() == 3 && q->sizes() == out->sizes() && q->stride(1) == q->size(2), "paged attention: q must be [B,H,D] like out, heads contiguous");
  paged_decode(out, *q, q->size(1), k_cache, v_cache, tables, lens, scale, block_size, window, nullptr);
  return 0;
  IK_CATCH(-1)
}

// As ik_paged_decode_attention for the unrotated qkv rows [B, (H+2KV)·D] of a decode step (unit stride along the
// row): rotates q and the step's key at positions [B] (int64) with cos/sin [maxPos, D] float32, stores the key and
// value at slots [B] (int64) of the caches, and attends, in one launch (PagedRope).
int ik_paged_decode_attention_rope(at::Tensor* out, at::Tensor* qkv, at::Tensor* k_cache, at::Tensor* v_cache, at::Tensor* tables,
                                   at::Tensor* lens, at::Tensor* positions, at::Tensor* cos, at::Tensor* sin, at::Tensor* slots,
                                   double scale, int block_size, int window) {
  IK_TRY
  check(out->dim() == 3 && k_cache->dim() == 3 && qkv->dim() == 2, "paged attention: out must be [B,H,D], qkv [B,(H+2KV)·D], caches [slots,KV,D]");
  const int64_t B = out->size(0), H = out->size(1), D = out->size(2), KV = k_cache->size(1);
  check(qkv->size(1) >= (H + 2 * KV) * D, "paged attention: qkv rows must hold (H+2KV)·D elements");
  check(positions->is_cuda() && slots->is_cuda() && cos->is_cuda() && sin->is_cuda(), "paged attention: all tensors must be on CUDA");
  check(positions->scalar_type() == at::kLong && positions->is_contiguous() && positions->numel() == B &&
            slots->scalar_type() == at::kLong && slots->is_contiguous() && slots->numel() == B,
        "paged attention: positions and slots must be [B] int64");
  check(cos->scalar_type() == at::kFloat && sin->scalar_type() == at::kFloat && cos->is_contiguous() && sin->is_contiguous() &&
            cos->dim() == 2 && cos->size(1) == D && sin->sizes() == cos->sizes(),
        "paged attention: cos/sin must be [maxPos, D] float32 contiguous");
  const PagedRope rope{positions->data_ptr<int64_t>(), cos->data_ptr<float>(), sin->data_ptr<float>(), slots->data_ptr<int64_t>()};
  paged_decode(out, *qkv, H, k_cache, v_cache, tables, lens, scale, block_size, window, &rope);
  return 0;
  IK_CATCH(-1)
}

// out [Tq,H,D] = causal attention of every sequence's queries against its keys, all sequences in one flash-attention
// call (ATen's varlen kernel): q [Tq,H,D], k/v [Tk,KV,D] (last dim contiguous), cu_q/cu_k [n+1] int32 row offsets.
// A sequence's queries are the last of its keys (bottom-right causal); window > 0 keeps the last `window` keys.
// Called through the dispatcher by schema, so the optional arguments newer PyTorch versions append stay None.
int ik_varlen_attention(at::Tensor* out, at::Tensor* q, at::Tensor* k, at::Tensor* v, at::Tensor* cu_q, at::Tensor* cu_k,
                        int max_q, int max_k, double scale, int window) {
  IK_TRY
  check(q->is_cuda() && k->is_cuda() && v->is_cuda() && out->is_cuda() && cu_q->is_cuda() && cu_k->is_cuda(), "varlen attention: tensors must be on CUDA");
  check(q->dim() == 3 && k->dim() == 3 && v->dim() == 3 && out->sizes() == q->sizes(), "varlen attention: q/out must be [Tq,H,D], k/v [Tk,KV,D]");
  check(q->scalar_type() == at::kHalf || q->scalar_type() == at::kBFloat16, "varlen attention: flash attention needs float16 or bfloat16");
  check(cu_q->scalar_type() == at::kInt && cu_k->scalar_type() == at::kInt && cu_q->numel() == cu_k->numel(), "varlen attention: cu_q/cu_k must be int32 [n+1]");
  static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("aten::_flash_attention_forward", "");
  const auto& args = op.schema().arguments();
  check(args.size() >= 13 && args[10].name() == "scale" && args[11].name() == "window_size_left",
        "varlen attention: this PyTorch's aten::_flash_attention_forward has an unexpected schema");
  c10::cuda::CUDAGuard guard(q->device());
  std::vector<c10::IValue> stack{*q, *k, *v, *cu_q, *cu_k, (int64_t)max_q, (int64_t)max_k, 0.0, true, false, scale};
  if (window > 0) { stack.emplace_back((int64_t)window - 1); stack.emplace_back((int64_t)0); }
  while (stack.size() < args.size()) stack.emplace_back();  // None for every later optional argument
  op.callBoxed(&stack);
  out->copy_(stack[0].toTensor());
  return 0;
  IK_CATCH(-1)
}

// out [T,H] = RMSNorm(x [T,H]) * w [H]; rows of x and out need unit stride along H.
int ik_rms_norm(at::Tensor* out, at::Tensor* x, at::Tensor* w, double eps) {
  IK_TRY
  check(x->is_cuda() && out->is_cuda() && w->is_cuda(), "rms_norm: tensors must be on CUDA");
  check(x->dim() == 2 && out->sizes() == x->sizes() && x->stride(1) == 1 && out->stride(1) == 1, "rms_norm: x and out must be [T,H] with contiguous rows");
  check(w->is_contiguous() && w->numel() == x->size(1), "rms_norm: weight must be [H] contiguous");
  check(x->scalar_type() == out->scalar_type() && x->scalar_type() == w->scalar_type(), "rms_norm: dtypes must match");
  c10::cuda::CUDAGuard guard(x->device());
  auto err = launch_rms_norm(dtype_code(x->scalar_type()), out->data_ptr(), x->data_ptr(), w->data_ptr(), (int)x->size(0), (int)x->size(1),
                             x->stride(0), out->stride(0), (float)eps, at::cuda::getCurrentCUDAStream());
  check(err == cudaSuccess, std::string("rms_norm launch failed: ") + cudaGetErrorString(err));
  return 0;
  IK_CATCH(-1)
}

// residual [T,H] += delta [T,H] in place, then out [T,H] = RMSNorm(residual) * w (rows with unit stride).
int ik_add_rms_norm(at::Tensor* out, at::Tensor* residual, at::Tensor* delta, at::Tensor* w, double eps) {
  IK_TRY
  check(out->is_cuda() && residual->is_cuda() && delta->is_cuda() && w->is_cuda(), "add_rms_norm: tensors must be on CUDA");
  check(residual->dim() == 2 && residual->stride(1) == 1 && delta->sizes() == residual->sizes() && delta->stride(1) == 1 &&
            out->sizes() == residual->sizes() && out->stride(1) == 1,
        "add_rms_norm: residual, delta and out must be [T,H] with contiguous rows");
  check(w->is_contiguous() && w->numel() == residual->size(1), "add_rms_norm: weight must be [H] contiguous");
  check(residual->scalar_type() == delta->scalar_type() && residual->scalar_type() == out->scalar_type() && residual->scalar_type() == w->scalar_type(),
        "add_rms_norm: dtypes must match");
  c10::cuda::CUDAGuard guard(residual->device());
  check_launch(launch_add_rms_norm(dtype_code(residual->scalar_type()), out->data_ptr(), residual->data_ptr(), delta->data_ptr(), w->data_ptr(),
                                   (int)residual->size(0), (int)residual->size(1), residual->stride(0), delta->stride(0), out->stride(0),
                                   (float)eps, at::cuda::getCurrentCUDAStream()),
               "add_rms_norm");
  return 0;
  IK_CATCH(-1)
}

// Rotates, in place, the q and k heads of each row of qkv [T, (H+2KV)·D] (unit stride along the row) at positions [T],
// and stores each token's rotated keys and its values at slots [T] (int64) of the layer's caches k_cache/v_cache
// [num_slots, KV, D] contiguous.
int ik_rotary_qk_cache(at::Tensor* qkv, at::Tensor* positions, at::Tensor* cos, at::Tensor* sin, int heads, int kv_heads, int head_dim,
                       at::Tensor* k_cache, at::Tensor* v_cache, at::Tensor* slots) {
  IK_TRY
  check(qkv->is_cuda() && positions->is_cuda() && cos->is_cuda() && sin->is_cuda() && k_cache->is_cuda() && v_cache->is_cuda() && slots->is_cuda(),
        "rotary_cache: tensors must be on CUDA");
  check(qkv->dim() == 2 && qkv->stride(1) == 1 && qkv->size(1) >= (int64_t)(heads + 2 * kv_heads) * head_dim, "rotary_cache: qkv must be [T,(H+2KV)·D] with contiguous rows");
  check(positions->scalar_type() == at::kLong && positions->is_contiguous() && positions->numel() == qkv->size(0), "rotary_cache: positions must be [T] int64");
  check(slots->scalar_type() == at::kLong && slots->is_contiguous() && slots->numel() == qkv->size(0), "rotary_cache: slots must be [T] int64");
  check(cos->scalar_type() == at::kFloat && sin->scalar_type() == at::kFloat && cos->is_contiguous() && sin->is_contiguous() && cos->size(1) == head_dim,
        "rotary_cache: cos/sin must be [maxPos, D] float32 contiguous");
  check(k_cache->is_contiguous() && v_cache->is_contiguous() && k_cache->dim() == 3 && k_cache->size(1) == kv_heads && k_cache->size(2) == head_dim &&
            v_cache->sizes() == k_cache->sizes(),
        "rotary_cache: caches must be [slots, KV, D] contiguous");
  check(k_cache->scalar_type() == qkv->scalar_type() && v_cache->scalar_type() == qkv->scalar_type(), "rotary_cache: caches must share qkv's dtype");
  c10::cuda::CUDAGuard guard(qkv->device());
  check_launch(launch_rotary_qk_cache(dtype_code(qkv->scalar_type()), qkv->data_ptr(), positions->data_ptr<int64_t>(), cos->data_ptr<float>(),
                                      sin->data_ptr<float>(), (int)qkv->size(0), heads, kv_heads, head_dim, qkv->stride(0), k_cache->data_ptr(),
                                      v_cache->data_ptr(), slots->data_ptr<int64_t>(), at::cuda::getCurrentCUDAStream()),
               "rotary_cache");
  return 0;
  IK_CATCH(-1)
}

// out [B] int64 = argmax over each row of logits [B, V] (float32/float16/bfloat16, rows contiguous), torch.argmax's pick.
int ik_argmax_rows(at::Tensor* out, at::Tensor* logits) {
  IK_TRY
  check(out->is_cuda() && logits->is_cuda() && out->get_device() == logits->get_device(), "argmax_rows: CUDA tensors on one device expected");
  check(logits->dim() == 2 && logits->stride(1) == 1 && logits->size(1) > 0, "argmax_rows: logits must be [B, V] with contiguous rows");
  check(out->scalar_type() == at::kLong && out->is_contiguous() && out->numel() == logits->size(0), "argmax_rows: out must be [B] int64");
  c10::cuda::CUDAGuard guard(out->device());
  const int64_t rows = logits->size(0), cols = logits->size(1);
  const int parts = argmax_parts((int)cols);
  at::Tensor part_v = at::empty({rows, parts}, logits->options().dtype(at::kFloat));
  at::Tensor part_i = at::empty({rows, parts}, logits->options().dtype(at::kInt));
  check_launch(launch_argmax_rows(dtype_code(logits->scalar_type()), out->data_ptr<int64_t>(), logits->data_ptr(), (int)rows, (int)cols,
                                  logits->stride(0), part_v.data_ptr<float>(), part_i.data_ptr<int32_t>(), at::cuda::getCurrentCUDAStream()),
               "argmax_rows");
  return 0;
  IK_CATCH(-1)
}

// out [T,I] = silu(gate_up[:, :I]) * gate_up[:, I:], both contiguous.
int ik_silu_mul(at::Tensor* out, at::Tensor* gate_up) {
  IK_TRY
  check(out->is_cuda() && gate_up->is_cuda() && out->is_contiguous() && gate_up->is_contiguous(), "silu_mul: contiguous CUDA tensors expected");
  check(gate_up->dim() == 2 && out->dim() == 2 && gate_up->size(0) == out->size(0) && gate_up->size(1) == 2 * out->size(1), "silu_mul: gate_up must be [T,2I] and out [T,I]");
  check(out->scalar_type() == gate_up->scalar_type(), "silu_mul: dtypes must match");
  c10::cuda::CUDAGuard guard(out->device());
  auto err = launch_silu_mul(dtype_code(out->scalar_type()), out->data_ptr(), gate_up->data_ptr(), (int)out->size(0), (int)out->size(1),
                             at::cuda::getCurrentCUDAStream());
  check(err == cudaSuccess, std::string("silu_mul launch failed: ") + cudaGetErrorString(err));
  return 0;
  IK_CATCH(-1)
}

// out [M, N] = (xq [M, K] · wq [N, K]ᵀ in int32) · x_scale[m] · w_scale[n] + bias[n]. out and bias share the
// serving dtype. On Hopper: the mma.sync skinny kernel up to 8 rows, the TMA skinny kernel for 9–32 and 65–128,
// cuBLASLt's INT32 GEMM and the epilogue pass for 33–64, the TMA wgmma kernel above. Elsewhere: the mma.sync skinny
// kernel up to 64 rows, the mma.sync tiled kernel above.
int ik_int8_gemm(at::Tensor* out, at::Tensor* xq, at::Tensor* x_scale, at::Tensor* wq, at::Tensor* w_scale, at::Tensor* bias) {
  IK_TRY
  check_quantized(*xq, *x_scale, "int8_gemm (activations)");
  check_quantized(*wq, *w_scale, "int8_gemm (weights)");
  check(out->is_cuda() && out->dim() == 2 && out->is_contiguous(), "int8_gemm: out must be [M,N] contiguous on CUDA");
  const int64_t M = xq->size(0), K = xq->size(1), N = wq->size(0);
  check(wq->size(1) == K && out->size(0) == M && out->size(1) == N, "int8_gemm: shapes must be xq [M,K], wq [N,K], out [M,N]");
  check(bias == nullptr || (bias->is_contiguous() && bias->numel() == N && bias->scalar_type() == out->scalar_type()),
        "int8_gemm: bias must be [N] contiguous in out's dtype");
  if (M == 0) return 0;
  c10::cuda::CUDAGuard guard(xq->device());
  const at::Tensor x = pad_k16(*xq), w = pad_k16(*wq);
  check(aligned16(x) && aligned16(w), "int8_gemm: xq and wq must start on 16-byte boundaries");
  const int kp = (int)x.size(1);
  const void* b = bias ? bias->data_ptr() : nullptr;
  auto st = at::cuda::getCurrentCUDAStream();
  const int code = dtype_code(out->scalar_type());
  if (int8_gemm_sm90_skinny_rows(M, st)) {
    check_launch(launch_int8_gemm_sm90_skinny(code, out->data_ptr(), x.data_ptr<int8_t>(), x_scale->data_ptr<float>(), w.data_ptr<int8_t>(),
                                              w_scale->data_ptr<float>(), b, (int)M, (int)N, kp, kp, N, st),
                 "int8_gemm");
    return 0;
  }
  if (int8_gemm_cublaslt_rows(M) && N % 8 == 0) {
    // At 33–64 rows cuBLASLt's INT8 GEMM is the faster one on Hopper (M=64 fused geomean 1.25× against 1.18× on the
    // TMA skinny kernel; docs/benchmarks/h100-w8a8.json: kernel_decisions, tma_skinny_9_to_32_rows); its INT32
    // sums take the same epilogue in a second pass.
    const at::Tensor acc = at::_int_mm(x, w.t());  // [M, N] int32
    check_launch(launch_int8_dequantize(code, out->data_ptr(), acc.data_ptr<int32_t>(), x_scale->data_ptr<float>(),
                                        w_scale->data_ptr<float>(), b, (int)M, (int)N, N, st),
                 "int8_gemm (dequantize)");
    return 0;
  }
  auto large = !g_force_mma_sync && int8_gemm_sm90_available(st) ? launch_int8_gemm_sm90 : launch_int8_gemm_tiled;
  auto err = M <= kSkinnyMaxRows
      ? launch_skinny_gemm_s8(code, out->data_ptr(), x.data_ptr<int8_t>(), x_scale->data_ptr<float>(), w.data_ptr<int8_t>(),
                              w_scale->data_ptr<float>(), b, (int)M, (int)N, kp, kp, N, st)
      : large(code, out->data_ptr(), x.data_ptr<int8_t>(), x_scale->data_ptr<float>(), w.data_ptr<int8_t>(),
              w_scale->data_ptr<float>(), b, (int)M, (int)N, kp, kp, N, st);
  check_launch(err, "int8_gemm");
  return 0;
  IK_CATCH(-1)
}

// Which kernel serves INT8 GEMMs above the skinny range: 1 = wgmma (when available), 0 = mma.sync. Returns the
// previous setting; for tests and benchmarks that compare the two.
int ik_int8_gemm_use_wgmma(int on) {
  return g_force_mma_sync.exchange(!on) ? 0 : (int8_gemm_sm90_available(at::cuda::getCurrentCUDAStream()) ? 1 : 0);
}

// out [M, N] = x [M, K] · w [N, K]ᵀ + bias for M ≤ 64 in float16/bfloat16 (decode-step linears at full bandwidth).
int ik_skinny_linear(at::Tensor* out, at::Tensor* x, at::Tensor* w, at::Tensor* bias) {
  IK_TRY
  check(out->is_cuda() && x->is_cuda() && w->is_cuda(), "skinny_linear: tensors must be on CUDA");
  check(x->dim() == 2 && x->stride(1) == 1 && w->dim() == 2 && w->is_contiguous() && out->dim() == 2 && out->is_contiguous(),
        "skinny_linear: x [M,K] with contiguous rows, w [N,K] and out [M,N] contiguous");
  const int64_t M = x->size(0), K = x->size(1), N = w->size(0);
  check(M <= kSkinnyMaxRows, "skinny_linear: at most 64 rows");
  check(w->size(1) == K && out->size(0) == M && out->size(1) == N, "skinny_linear: shape mismatch");
  check(K % 8 == 0 && x->stride(0) % 8 == 0, "skinny_linear: K and x's row stride must be multiples of 8");
  check(x->scalar_type() == w->scalar_type() && x->scalar_type() == out->scalar_type() &&
            (x->scalar_type() == at::kHalf || x->scalar_type() == at::kBFloat16),
        "skinny_linear: x, w and out must share float16 or bfloat16");
  check(bias == nullptr || (bias->is_contiguous() && bias->numel() == N && bias->scalar_type() == out->scalar_type()),
        "skinny_linear: bias must be [N] contiguous in out's dtype");
  if (M == 0) return 0;
  check(aligned16(*w), "skinny_linear: w must start on a 16-byte boundary");
  c10::cuda::CUDAGuard guard(x->device());
  // A view can start mid-row; the kernel moves 16-byte pieces, so such an x is copied once.
  const at::Tensor xa = aligned16(*x) ? *x : x->contiguous().clone();
  check_launch(launch_skinny_gemm_f16(dtype_code(x->scalar_type()), out->data_ptr(), xa.data_ptr(), w->data_ptr(),
                                      bias ? bias->data_ptr() : nullptr, (int)M, (int)N, (int)K, xa.stride(0), N,
                                      at::cuda::getCurrentCUDAStream()),
               "skinny_linear");
  return 0;
  IK_CATCH(-1)
}

// q, scale ← per-token INT8 of RMSNorm(x [T,H])·w (static_scale > 0: that one scale for every token).
int ik_rms_norm_quant(at::Tensor* q, at::Tensor* scale, at::Tensor* x, at::Tensor* w, double eps, double static_scale) {
  IK_TRY
  check_quantized(*q, *scale, "rms_norm_quant");
  check(x->is_cuda() && x->dim() == 2 && x->stride(1) == 1 && q->sizes() == x->sizes(), "rms_norm_quant: x must be [T,H] with contiguous rows, like q");
  check(w->is_contiguous() && w->numel() == x->size(1) && w->scalar_type() == x->scalar_type(), "rms_norm_quant: weight must be [H] in x's dtype");
  c10::cuda::CUDAGuard guard(x->device());
  check_launch(launch_rms_norm_quant(dtype_code(x->scalar_type()), q->data_ptr<int8_t>(), scale->data_ptr<float>(), x->data_ptr(),
                                     w->data_ptr(), (int)x->size(0), (int)x->size(1), x->stride(0), (float)eps, (float)static_scale,
                                     at::cuda::getCurrentCUDAStream()),
               "rms_norm_quant");
  return 0;
  IK_CATCH(-1)
}

// residual [T,H] += delta in place, then q, scale ← INT8 of RMSNorm(residual)·w.
int ik_add_rms_norm_quant(at::Tensor* q, at::Tensor* scale, at::Tensor* residual, at::Tensor* delta, at::Tensor* w, double eps, double static_scale) {
  IK_TRY
  check_quantized(*q, *scale, "add_rms_norm_quant");
  check(residual->is_cuda() && delta->is_cuda() && residual->dim() == 2 && residual->stride(1) == 1 && delta->sizes() == residual->sizes() &&
            delta->stride(1) == 1 && q->sizes() == residual->sizes(),
        "add_rms_norm_quant: residual and delta must be [T,H] with contiguous rows, like q");
  check(delta->scalar_type() == residual->scalar_type() && w->scalar_type() == residual->scalar_type() && w->is_contiguous() && w->numel() == residual->size(1),
        "add_rms_norm_quant: delta and weight [H] must share residual's dtype");
  c10::cuda::CUDAGuard guard(residual->device());
  check_launch(launch_add_rms_norm_quant(dtype_code(residual->scalar_type()), q->data_ptr<int8_t>(), scale->data_ptr<float>(), residual->data_ptr(),
                                         delta->data_ptr(), w->data_ptr(), (int)residual->size(0), (int)residual->size(1), residual->stride(0),
                                         delta->stride(0), (float)eps, (float)static_scale, at::cuda::getCurrentCUDAStream()),
               "add_rms_norm_quant");
  return 0;
  IK_CATCH(-1)
}

// q [T, I], scale ← INT8 of silu(gate_up[:, :I])·gate_up[:, I:] for gate_up [T, 2I] contiguous.
int ik_silu_mul_quant(at::Tensor* q, at::Tensor* scale, at::Tensor* gate_up, double static_scale) {
  IK_TRY
  check_quantized(*q, *scale, "silu_mul_quant");
  check(gate_up->is_cuda() && gate_up->is_contiguous() && gate_up->dim() == 2 && gate_up->size(0) == q->size(0) &&
            gate_up->size(1) == 2 * q->size(1),
        "silu_mul_quant: gate_up must be [T,2I] contiguous for q [T,I]");
  c10::cuda::CUDAGuard guard(gate_up->device());
  check_launch(launch_silu_mul_quant(dtype_code(gate_up->scalar_type()), q->data_ptr<int8_t>(), scale->data_ptr<float>(), gate_up->data_ptr(),
                                     (int)q->size(0), (int)q->size(1), (float)static_scale, at::cuda::getCurrentCUDAStream()),
               "silu_mul_quant");
  return 0;
  IK_CATCH(-1)
}

// q [T, K], scale ← INT8 of x [T, K] (rows with unit stride).
int ik_quantize_rows(at::Tensor* q, at::Tensor* scale, at::Tensor* x, double static_scale) {
  IK_TRY
  check_quantized(*q, *scale, "quantize_rows");
  check(x->is_cuda() && x->dim() == 2 && x->stride(1) == 1 && x->sizes() == q->sizes(), "quantize_rows: x must be [T,K] with contiguous rows, like q");
  c10::cuda::CUDAGuard guard(x->device());
  check_launch(launch_quantize_rows(dtype_code(x->scalar_type()), q->data_ptr<int8_t>(), scale->data_ptr<float>(), x->data_ptr(),
                                    (int)x->size(0), (int)x->size(1), x->stride(0), (float)static_scale, at::cuda::getCurrentCUDAStream()),
               "quantize_rows");
  return 0;
  IK_CATCH(-1)
}

// Free and total bytes of the current device (cudaMemGetInfo), for sizing the KV pool.
int ik_mem_get_info(int64_t* free_bytes, int64_t* total_bytes) {
  IK_TRY
  size_t f = 0, t = 0;
  auto err = cudaMemGetInfo(&f, &t);
  check(err == cudaSuccess, std::string("cudaMemGetInfo: ") + cudaGetErrorString(err));
  *free_bytes = (int64_t)f;
  *total_bytes = (int64_t)t;
  return 0;
  IK_CATCH(-1)
}

// Bytes the caching allocator has handed out on the current device: now, and the peak since the last reset; reset = 1
// starts a new peak window. For measuring the activation memory of a warm-up pass.
int ik_memory_allocated(int64_t* current, int64_t* peak, int reset) {
  IK_TRY
  const auto dev = c10::cuda::current_device();
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(dev);
  *current = stats.allocated_bytes[0].current;  // [0]: the aggregate over pool kinds
  *peak = stats.allocated_bytes[0].peak;
  if (reset) c10::cuda::CUDACachingAllocator::resetPeakStats(dev);
  return 0;
  IK_CATCH(-1)
}

// Returns the allocator's cached, unused blocks to the driver, so that cudaMemGetInfo counts them as free.
int ik_empty_cache() {
  IK_TRY
  c10::cuda::CUDACachingAllocator::emptyCache();
  return 0;
  IK_CATCH(-1)
}

// Brackets the region a profiler started with collection off (ncu --profile-from-start off, nsys
// --capture-range=cudaProfilerApi) records: one engine step chosen by INFERENCE_PROFILE_STEP.
int ik_profiler_range(int start) {
  const auto err = start ? cudaProfilerStart() : cudaProfilerStop();
  if (err != cudaSuccess) { ik::last_error() = cudaGetErrorString(err); return -1; }
  return 0;
}

// CUDA graphs over TorchSharp ops: capture on a side stream made current for this thread, so the same C# code
// that runs eagerly is recorded; replay() reruns it. Graphs share one memory pool (they never run concurrently).
void* ik_graph_new() { return new at::cuda::CUDAGraph(); }

int ik_graph_capture_begin(void* graph, void* pool_source) {
  IK_TRY
  if (!g_capture_stream) g_capture_stream = c10::cuda::getStreamFromPool(false);
  c10::cuda::setCurrentCUDAStream(*g_capture_stream);
  auto* g = static_cast<at::cuda::CUDAGraph*>(graph);
  // Thread-local capture mode: other threads' CUDA calls (tokenization never makes any, but tests and tools may)
  // neither break the capture nor get recorded into it.
  at::cuda::MempoolId_t pool = pool_source ? static_cast<at::cuda::CUDAGraph*>(pool_source)->pool() : at::cuda::MempoolId_t{0, 0};
  g->capture_begin(pool, cudaStreamCaptureModeThreadLocal);
  return 0;
  IK_CATCH((c10::cuda::setCurrentCUDAStream(c10::cuda::getDefaultCUDAStream()), -1))
}

int ik_graph_capture_end(void* graph) {
  IK_TRY
  static_cast<at::cuda::CUDAGraph*>(graph)->capture_end();
  c10::cuda::setCurrentCUDAStream(c10::cuda::getDefaultCUDAStream());
  return 0;
  IK_CATCH((c10::cuda::setCurrentCUDAStream(c10::cuda::getDefaultCUDAStream()), -1))
}

int ik_graph_replay(void* graph) {
  IK_TRY
  static_cast<at::cuda::CUDAGraph*>(graph)->replay();
  return 0;
  IK_CATCH(-1)
}

void ik_graph_delete(void* graph) { delete static_cast<at::cuda::CUDAGraph*>(graph); }

// Events mark a point in the current stream's work: the engine waits for one step's sampled ids (copied to host
// memory behind that step) while the next step, queued after them, still runs.
void* ik_event_new() {
  cudaEvent_t event = nullptr;
  const auto err = cudaEventCreateWithFlags(&event, cudaEventDisableTiming);
  if (err != cudaSuccess) { ik::last_error() = cudaGetErrorString(err); return nullptr; }
  return event;
}

int ik_event_record(void* event) {
  const auto err = cudaEventRecord(static_cast<cudaEvent_t>(event), at::cuda::getCurrentCUDAStream());
  if (err != cudaSuccess) { ik::last_error() = cudaGetErrorString(err); return -1; }
  return 0;
}

int ik_event_synchronize(void* event) {
  const auto err = cudaEventSynchronize(static_cast<cudaEvent_t>(event));
  if (err != cudaSuccess) { ik::last_error() = cudaGetErrorString(err); return -1; }
  return 0;
}

void ik_event_delete(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }

}  // extern "C"
