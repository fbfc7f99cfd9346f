// What the kernel files need from CUDA's runtime headers for clang's CUDA device compilation (compile.sh), without a
// CUDA installation: the execution-space attributes, the built-in variables, vector types, clang's device-function and
// intrinsic headers (which call libdevice's __nv_* functions, left undefined: nothing is linked), and declarations of
// the host API the launchers call. Declarations only where the host side is concerned: no code is generated for it.
#pragma once
#define CUDA_VERSION 12080  // what clang's headers test (the runtime's CUDART_VERSION is in cuda_types.h)
#define __host__ __attribute__((host))
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__  // clang 19 does not know the attribute: kernel parameters stay as they are

#include <__clang_cuda_math_forward_declares.h>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cmath>

#include "vector_types.h"
#include <__clang_cuda_builtin_vars.h>
#include "../../cuda-types/cuda_types.h"
// Needed by clang's intrinsic header below (CUDA declares them in its device-function headers).
static __device__ __forceinline__ unsigned __isShared(const void* p) { return __nvvm_isspacep_shared((void*)p); }
static __device__ __forceinline__ size_t __cvta_generic_to_shared(const void* p) {
  return (size_t)(void __attribute__((address_space(3)))*)p;
}
#include <__clang_cuda_libdevice_declares.h>
#include <__clang_cuda_device_functions.h>
#include <__clang_cuda_math.h>
#include <__clang_cuda_intrinsics.h>

// CUDA's atomicAdd on unsigned int (its device_atomic_functions.hpp; clang's header has the __uAtomicAdd it calls).
static __device__ __forceinline__ unsigned atomicAdd(unsigned* p, unsigned v) { return __uAtomicAdd(p, v); }

// CUDA's __ldcg (its sm_32_intrinsics.hpp; clang's header has only __ldg) for the types the kernels load so.
static __device__ __forceinline__ uint4 __ldcg(const uint4* p) {
  uint4 r;
  asm volatile("ld.global.cg.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}
static __device__ __forceinline__ float __ldcg(const float* p) {
  float r;
  asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(r) : "l"(p));
  return r;
}

// Unqualified min/max on integers, as CUDA declares them for device code (clang's math header has the int ones).
static __device__ __forceinline__ unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static __device__ __forceinline__ unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static __device__ __forceinline__ long long min(long long a, long long b) { return a < b ? a : b; }
static __device__ __forceinline__ long long max(long long a, long long b) { return a > b ? a : b; }
static __device__ __forceinline__ long min(long a, long b) { return a < b ? a : b; }
static __device__ __forceinline__ long max(long a, long b) { return a > b ? a : b; }

// The host API the launchers call (declarations only).
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t);
cudaError_t cudaGetDevice(int*);
cudaError_t cudaDeviceGetAttribute(int*, cudaDeviceAttr, int);
cudaError_t cudaFuncSetAttribute(const void*, cudaFuncAttribute, int);
template <typename T>
cudaError_t cudaFuncSetAttribute(T* f, cudaFuncAttribute a, int v) { return cudaFuncSetAttribute((const void*)f, a, v); }
cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus*);
cudaError_t cudaMalloc(void**, size_t);
template <typename T>
cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMalloc((void**)p, bytes); }
cudaError_t cudaFree(void*);
cudaError_t cudaMemcpy(void*, const void*, size_t, cudaMemcpyKind);
cudaError_t cudaMemsetAsync(void*, int, size_t, cudaStream_t);
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int*, const void*, int, size_t);
template <typename T>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* n, T* f, int block, size_t smem) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessor(n, (const void*)f, block, smem);
}
cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t*, const void*, void**);
cudaError_t cudaOccupancyMaxActiveClusters(int*, const void*, const cudaLaunchConfig_t*);
template <typename T>
cudaError_t cudaOccupancyMaxActiveClusters(int* n, T* f, const cudaLaunchConfig_t* cfg) {
  return cudaOccupancyMaxActiveClusters(n, (const void*)f, cfg);
}
template <typename... KArgs, typename... Args>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* cfg, void (*kernel)(KArgs...), Args&&... args) {
  void* pargs[] = {(void*)&args..., nullptr};
  return cudaLaunchKernelExC(cfg, (const void*)kernel, pargs);
}
cudaError_t cudaGetDriverEntryPoint(const char*, void**, unsigned long long, cudaDriverEntryPointQueryResult*);
cudaError_t cudaGetDriverEntryPointByVersion(const char*, void**, unsigned, unsigned long long, cudaDriverEntryPointQueryResult*);
// kernel<<<grid, block, smem, stream>>>: clang lowers the launch syntax to this call when it sees no CUDA installation.
cudaError_t cudaConfigureCall(dim3, dim3, size_t = 0, cudaStream_t = nullptr);
