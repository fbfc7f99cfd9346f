// Tensor-parallel collectives through NCCL, behind the library's C ABI (Engine/Parallel/NcclCommunicator.cs).
// NCCL is opened at run time (dlopen of libnccl.so.2, the one PyTorch's CUDA wheels ship) rather than linked, so the
// library builds without NCCL's headers and a machine without NCCL still loads it; only the communicator fails,
// with a message that names the library. The few declarations below are NCCL's public C API (nccl.h, 2.x).
// Every collective is enqueued on the current stream of the tensor's device and does not synchronize, so CUDA
// graph capture records it like any kernel.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <dlfcn.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>
#include "api_common.h"

namespace {
using ik::check;

// nccl.h: ncclComm_t is an opaque pointer, ncclUniqueId 128 bytes, results/types/ops are C enums (int).
using ncclComm_t = void*;
struct ncclUniqueId { char internal[128]; };
constexpr int kNcclSuccess = 0;
enum NcclType { kInt8 = 0, kUint8 = 1, kInt32 = 2, kInt64 = 4, kFloat16 = 6, kFloat32 = 7, kFloat64 = 8, kBfloat16 = 9 };
enum NcclOp { kSum = 0, kMax = 2 };

struct Nccl {
  const char* (*get_error_string)(int);
  int (*get_version)(int*);
  int (*get_unique_id)(ncclUniqueId*);
  int (*comm_init_rank)(ncclComm_t*, int, ncclUniqueId, int);
  int (*comm_init_all)(ncclComm_t*, int, const int*);
  int (*comm_destroy)(ncclComm_t);
  int (*comm_abort)(ncclComm_t);
  int (*all_reduce)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
  int (*all_gather)(const void*, void*, size_t, int, ncclComm_t, cudaStream_t);
  int (*broadcast)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t);
};

// Opens NCCL once: NCCL_LIBRARY (a path) if set, else libnccl.so.2 on the loader's path.
const Nccl& nccl() {
  static Nccl api{};
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("NCCL_LIBRARY");
    const char* name = env && *env ? env : "libnccl.so.2";
    void* lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
      failure = std::string("cannot open ") + name + " (" + dlerror() +
                "); put NCCL's lib folder on LD_LIBRARY_PATH or set NCCL_LIBRARY to the file";
      return;
    }
    auto sym = [&](const char* s) {
      void* p = dlsym(lib, s);
      if (!p && failure.empty()) failure = std::string(name) + " has no " + s;
      return p;
    };
    api.get_error_string = reinterpret_cast<const char* (*)(int)>(sym("ncclGetErrorString"));
    api.get_version = reinterpret_cast<int (*)(int*)>(sym("ncclGetVersion"));
    api.get_unique_id = reinterpret_cast<int (*)(ncclUniqueId*)>(sym("ncclGetUniqueId"));
    api.comm_init_rank = reinterpret_cast<int (*)(ncclComm_t*, int, ncclUniqueId, int)>(sym("ncclCommInitRank"));
    api.comm_init_all = reinterpret_cast<int (*)(ncclComm_t*, int, const int*)>(sym("ncclCommInitAll"));
    api.comm_destroy = reinterpret_cast<int (*)(ncclComm_t)>(sym("ncclCommDestroy"));
    api.comm_abort = reinterpret_cast<int (*)(ncclComm_t)>(sym("ncclCommAbort"));
    api.all_reduce = reinterpret_cast<int (*)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t)>(sym("ncclAllReduce"));
    api.all_gather = reinterpret_cast<int (*)(const void*, void*, size_t, int, ncclComm_t, cudaStream_t)>(sym("ncclAllGather"));
    api.broadcast = reinterpret_cast<int (*)(const void*, void*, size_t, int, int, ncclComm_t, cudaStream_t)>(sym("ncclBroadcast"));
  });
  check(failure.empty(), "NCCL: " + failure);
  return api;
}

void check_nccl(int rc, const char* what) {
  if (rc != kNcclSuccess) throw std::runtime_error(std::string(what) + ": " + nccl().get_error_string(rc));
}

int nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kChar: return kInt8;
    case at::kByte: return kUint8;
    case at::kInt: return kInt32;
    case at::kLong: return kInt64;
    case at::kHalf: return kFloat16;
    case at::kFloat: return kFloat32;
    case at::kDouble: return kFloat64;
    case at::kBFloat16: return kBfloat16;
    default: throw std::runtime_error(std::string("NCCL: unsupported dtype ") + c10::toString(t));
  }
}

void check_tensor(const at::Tensor& t, const char* what) {
  check(t.is_cuda() && t.is_contiguous(), std::string(what) + ": the tensor must be contiguous on CUDA");
}

cudaStream_t stream_of(const at::Tensor& t) { return at::cuda::getCurrentCUDAStream(t.device().index()).stream(); }
}  // namespace

extern "C" {

// NCCL's version code (e.g. 22703 for 2.27.3), or -1 when NCCL cannot be opened.
int ik_nccl_version() {
  IK_TRY
  int v = 0;
  check_nccl(nccl().get_version(&v), "ncclGetVersion");
  return v;
  IK_CATCH(-1)
}

// Writes a new group id (128 bytes) for ncclCommInitRank; rank 0 makes it and hands it to the other ranks.
int ik_nccl_get_unique_id(uint8_t* out) {
  IK_TRY
  ncclUniqueId id;
  check_nccl(nccl().get_unique_id(&id), "ncclGetUniqueId");
  std::memcpy(out, id.internal, sizeof id.internal);
  return 0;
  IK_CATCH(-1)
}

// One rank of a group whose ranks may live in other processes or hosts (the multi-node launch); every rank calls it
// with the same id and world size at about the same time. Returns the communicator, or null.
void* ik_nccl_comm_init_rank(const uint8_t* id, int world, int rank, int device) {
  IK_TRY
  c10::cuda::CUDAGuard guard((c10::DeviceIndex)device);
  ncclUniqueId uid;
  std::memcpy(uid.internal, id, sizeof uid.internal);
  ncclComm_t comm = nullptr;
  check_nccl(nccl().comm_init_rank(&comm, world, uid, rank), "ncclCommInitRank");
  return comm;
  IK_CATCH(nullptr)
}

// All ranks of a group in this process, rank r on devices[r] (the one-process executor): comms_out[r].
int ik_nccl_comm_init_all(int n, const int* devices, void** comms_out) {
  IK_TRY
  std::vector<ncclComm_t> comms(n);
  check_nccl(nccl().comm_init_all(comms.data(), n, devices), "ncclCommInitAll");
  for (int r = 0; r < n; ++r) comms_out[r] = comms[r];
  return 0;
  IK_CATCH(-1)
}

// In place: t ← Σ (op 0) or max (op 1) over the ranks.
int ik_nccl_all_reduce(void* comm, at::Tensor* t, int op) {
  IK_TRY
  check_tensor(*t, "all_reduce");
  check(op == 0 || op == 1, "all_reduce: op must be 0 (sum) or 1 (max)");
  check_nccl(nccl().all_reduce(t->data_ptr(), t->data_ptr(), (size_t)t->numel(), nccl_type(t->scalar_type()), op == 0 ? kSum : kMax,
                               comm, stream_of(*t)),
             "ncclAllReduce");
  return 0;
  IK_CATCH(-1)
}

// out [world · numel(in)] ← the ranks' inputs concatenated in rank order (flat; the caller shapes it).
int ik_nccl_all_gather(void* comm, at::Tensor* in, at::Tensor* out) {
  IK_TRY
  check_tensor(*in, "all_gather input");
  check_tensor(*out, "all_gather output");
  check(in->scalar_type() == out->scalar_type() && out->numel() % std::max<int64_t>(1, in->numel()) == 0,
        "all_gather: the output must hold world × the input's elements, in the input's dtype");
  check_nccl(nccl().all_gather(in->data_ptr(), out->data_ptr(), (size_t)in->numel(), nccl_type(in->scalar_type()), comm, stream_of(*in)),
             "ncclAllGather");
  return 0;
  IK_CATCH(-1)
}

// In place: t ← rank root's t.
int ik_nccl_broadcast(void* comm, at::Tensor* t, int root) {
  IK_TRY
  check_tensor(*t, "broadcast");
  check_nccl(nccl().broadcast(t->data_ptr(), t->data_ptr(), (size_t)t->numel(), nccl_type(t->scalar_type()), root, comm, stream_of(*t)),
             "ncclBroadcast");
  return 0;
  IK_CATCH(-1)
}

// Breaks the group: collectives in flight or called later return errors instead of waiting for a failed rank.
int ik_nccl_comm_abort(void* comm) {
  IK_TRY
  check_nccl(nccl().comm_abort(comm), "ncclCommAbort");
  return 0;
  IK_CATCH(-1)
}

int ik_nccl_comm_destroy(void* comm) {
  IK_TRY
  check_nccl(nccl().comm_destroy(comm), "ncclCommDestroy");
  return 0;
  IK_CATCH(-1)
}

// Makes `device` the calling thread's current CUDA device (a tensor-parallel rank's worker thread, before its work).
int ik_set_device(int device) {
  IK_TRY
  c10::cuda::set_device((c10::DeviceIndex)device);
  return 0;
  IK_CATCH(-1)
}

}  // extern "C"
