// float ⇄ storage-type conversions and the dtype dispatch shared by the kernels (float32, float16, bfloat16), and
// the small launch-side helpers they share.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdlib>
#include <cstring>

__device__ inline float to_f(float x) { return x; }
__device__ inline float to_f(__half x) { return __half2float(x); }
__device__ inline float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ inline T from_f(float x);
template <> __device__ inline float from_f<float>(float x) { return x; }
template <> __device__ inline __half from_f<__half>(float x) { return __float2half(x); }
template <> __device__ inline __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16(x); }

// Runs F<T>::run(args...) for dtype code 0 = float32, 1 = float16, 2 = bfloat16.
template <template <typename> class F, typename... A>
cudaError_t dispatch_dtype(int dtype, A... args) {
  switch (dtype) {
    case 0: return F<float>::run(args...);
    case 1: return F<__half>::run(args...);
    case 2: return F<__nv_bfloat16>::run(args...);
    default: return cudaErrorInvalidValue;
  }
}

// Raises Kernel's dynamic shared-memory limit to `bytes`, once per device (idempotent, so a race only repeats it).
// A template on the kernel itself: kernels of one signature must not share the flag.
template <auto Kernel>
cudaError_t allow_dynamic_smem(int bytes) {
  static unsigned configured = 0;  // one bit per device
  int dev = 0;
  cudaGetDevice(&dev);
  if (configured & (1u << dev)) return cudaSuccess;
  auto err = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (err == cudaSuccess) configured |= 1u << dev;
  return err;
}

// Lets Kernel run in thread-block clusters of more than 8 blocks (up to 16 on Hopper), once per device.
template <auto Kernel>
cudaError_t allow_large_clusters() {
  static unsigned configured = 0;  // one bit per device
  int dev = 0;
  cudaGetDevice(&dev);
  if (configured & (1u << dev)) return cudaSuccess;
  auto err = cudaFuncSetAttribute(Kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  if (err == cudaSuccess) configured |= 1u << dev;
  return err;
}

// Compute capability major of the current device; 0 when it cannot be asked.
inline int device_cc_major() {
  int dev = 0, major = 0;
  return cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess ? major : 0;
}

// Multiprocessors of the current device (asked once; 132 when it cannot be asked).
inline int sm_count() {
  static const int count = [] {
    int dev = 0, n = 0;
    cudaGetDevice(&dev);
    return cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess ? n : 132;
  }();
  return count;
}

// Whether the environment variable `name` is "0": the switches that turn a kernel choice off for comparisons.
inline bool env_switched_off(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "0") == 0;
}

// The environment variable `name` as an integer (0 when unset or not a number): the switches that fix a count.
inline int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : 0;
}

// Whether the environment variable `name` is "1": the switches that widen a kernel choice for comparisons.
inline bool env_switched_on(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "1") == 0;
}
