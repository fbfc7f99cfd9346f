// The C ABI of the native library. Every function takes TorchSharp tensor handles (at::Tensor*), checks dtype,
// shape and device, launches on ATen's current stream, and reports failure through a thread-local error slot:
// no C++ exception ever crosses into .NET.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <optional>
#include <sstream>
#include <string>
#include "fused_ops.h"
#include "paged_attention.h"

namespace {
thread_local std::string g_error;

#define IK_TRY try {
#define IK_CATCH(fail)                         \
  }                                            \
  catch (const std::exception& e) {            \
    g_error = e.what();                        \
    return fail;                               \
  }

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

int dtype_code(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return 0;
    case at::kHalf: return 1;
    case at::kBFloat16: return 2;
    default: throw std::runtime_error("unsupported dtype (expected float32, float16 or bfloat16)");
  }
}

std::optional<c10::cuda::CUDAStream> g_capture_stream;
}  // namespace

extern "C" {

const char* ik_last_error() { return g_error.c_str(); }

// out [B,H,D] = softmax(q·Kᵀ·scale)·V over each sequence's paged context.
// q [B,H,D] (last two dims contiguous), k/v cache [slots,KV,D] contiguous, tables [B,M] int32, lens [B] int32.
int ik_paged_decode_attention(at::Tensor* out, at::Tensor* q, at::Tensor* k_cache, at::Tensor* v_cache,
                              at::Tensor* tables, at::Tensor* lens, double scale, int block_size, int window) {
  IK_TRY
  check(q->is_cuda() && k_cache->is_cuda() && v_cache->is_cuda() && tables->is_cuda() && lens->is_cuda() && out->is_cuda(),
        "paged attention: all tensors must be on CUDA");
  check(q->dim() == 3 && out->dim() == 3 && k_cache->dim() == 3 && v_cache->dim() == 3, "paged attention: q/out must be [B,H,D], caches [slots,KV,D]");
  check(q->scalar_type() == k_cache->scalar_type() && q->scalar_type() == v_cache->scalar_type() && q->scalar_type() == out->scalar_type(),
        "paged attention: q, caches and out must share a dtype");
  check(tables->scalar_type() == at::kInt && lens->scalar_type() == at::kInt, "paged attention: tables and lens must be int32");
  check(k_cache->is_contiguous() && v_cache->is_contiguous() && tables->is_contiguous() && lens->is_contiguous(),
        "paged attention: caches, tables and lens must be contiguous");
  const int64_t B = q->size(0), H = q->size(1), D = q->size(2), KV = k_cache->size(1);
  check(q->stride(2) == 1 && q->stride(1) == D && out->stride(2) == 1 && out->stride(1) == D, "paged attention: heads must be contiguous in q and out");
  check(out->size(0) == B && out->size(1) == H && out->size(2) == D && k_cache->size(2) == D, "paged attention: shape mismatch");
  check(tables->dim() == 2 && tables->size(0) == B && lens->numel() == B, "paged attention: tables must be [B,M] and lens [B]");
  c10::cuda::CUDAGuard guard(q->device());
  auto err = launch_paged_decode_attention(dtype_code(q->scalar_type()), out->data_ptr(), q->data_ptr(), k_cache->data_ptr(),
                                           v_cache->data_ptr(), tables->data_ptr<int32_t>(), lens->data_ptr<int32_t>(),
                                           (int)B, (int)H, (int)KV, (int)D, block_size, (int)tables->size(1), window,
                                           (float)scale, q->stride(0), out->stride(0), at::cuda::getCurrentCUDAStream());
  check(err == cudaSuccess, std::string("paged attention launch failed: ") + cudaGetErrorString(err));
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

// Rotates, in place, the first rotated_heads heads of each row of qkv [T, W] (unit stride along W) at positions [T].
int ik_rotary_qk(at::Tensor* qkv, at::Tensor* positions, at::Tensor* cos, at::Tensor* sin, int rotated_heads, int head_dim) {
  IK_TRY
  check(qkv->is_cuda() && positions->is_cuda() && cos->is_cuda() && sin->is_cuda(), "rotary: tensors must be on CUDA");
  check(qkv->dim() == 2 && qkv->stride(1) == 1 && qkv->size(1) >= (int64_t)rotated_heads * head_dim, "rotary: qkv must be [T,W] with contiguous rows");
  check(positions->scalar_type() == at::kLong && positions->is_contiguous() && positions->numel() == qkv->size(0), "rotary: positions must be [T] int64");
  check(cos->scalar_type() == at::kFloat && sin->scalar_type() == at::kFloat && cos->is_contiguous() && sin->is_contiguous() && cos->size(1) == head_dim,
        "rotary: cos/sin must be [maxPos, D] float32 contiguous");
  c10::cuda::CUDAGuard guard(qkv->device());
  auto err = launch_rotary_qk(dtype_code(qkv->scalar_type()), qkv->data_ptr(), positions->data_ptr<int64_t>(), cos->data_ptr<float>(),
                              sin->data_ptr<float>(), (int)qkv->size(0), rotated_heads, head_dim, qkv->stride(0), at::cuda::getCurrentCUDAStream());
  check(err == cudaSuccess, std::string("rotary launch failed: ") + cudaGetErrorString(err));
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

// Bytes the caching allocator holds (reserved) on the current device.
int64_t ik_memory_reserved() { return (int64_t)c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device()).reserved_bytes[0].current; }

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

}  // extern "C"
