// What every C ABI file of the native library shares: the thread-local error slot behind ik_last_error, the
// try/catch pair that keeps C++ exceptions from crossing into .NET, and the argument checks. A C function returns
// 0 (or a pointer) on success and -1 (or null) with the message in the slot on failure.
#pragma once
#include <ATen/ATen.h>
#include <cuda_runtime.h>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ik {

// The calling thread's last error message (defined in api.cpp).
std::string& last_error();

inline void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

inline void check_launch(cudaError_t err, const char* what) {
  check(err == cudaSuccess, std::string(what) + " launch failed: " + cudaGetErrorString(err));
}

// The kernels' dtype codes: 0 float32, 1 float16, 2 bfloat16.
inline int dtype_code(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return 0;
    case at::kHalf: return 1;
    case at::kBFloat16: return 2;
    default: throw std::runtime_error("unsupported dtype (expected float32, float16 or bfloat16)");
  }
}

inline bool aligned16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

}  // namespace ik

#define IK_TRY try {
#define IK_CATCH(fail)                    \
  }                                       \
  catch (const std::exception& e) {       \
    ik::last_error() = e.what();          \
    return fail;                          \
  }
