// The runtime API the kernel files call on the host side: launches (cudaLaunchKernelEx and, through the build's
// rewrite of kernel<<<...>>>(...), simt::launch), errors, and a device of compute capability 8.0, so no Hopper-only
// path (programmatic launch, clusters) is taken.
#pragma once
#include "simt.h"

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1 };
using cudaStream_t = struct CUstream_st*;
enum cudaDeviceAttr { cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrMultiProcessorCount = 16 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaLaunchAttributeID { cudaLaunchAttributeProgrammaticStreamSerialization = 5, cudaLaunchAttributeClusterDimension = 4 };
struct cudaLaunchAttributeValue {
  int programmaticStreamSerializationAllowed;
  struct { unsigned x, y, z; } clusterDim;
};
struct cudaLaunchAttribute {
  cudaLaunchAttributeID id;
  cudaLaunchAttributeValue val;
};
struct cudaLaunchConfig_t {
  dim3 gridDim, blockDim;
  size_t dynamicSmemBytes;
  cudaStream_t stream;
  cudaLaunchAttribute* attrs;
  unsigned numAttrs;
};

inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrComputeCapabilityMajor ? 8 : 132;
  return cudaSuccess;
}
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) { return cudaSuccess; }

namespace simt {
// kernel<<<grid, block, smem, stream>>>(args...): every thread calls the kernel with its own copy of the arguments.
struct Config {
  dim3 grid, block;
  size_t smem = 0;
  cudaStream_t stream = nullptr;
};
template <typename... KArgs, typename... Args>
cudaError_t launch(void (*kernel)(KArgs...), Config c, Args... args) {
  const std::tuple<KArgs...> a(static_cast<KArgs>(args)...);
  run_grid(c.grid, c.block, [&] { std::apply(kernel, std::tuple<KArgs...>(a)); });
  return cudaSuccess;
}
}  // namespace simt

template <typename... KArgs, typename... Args>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* cfg, void (*kernel)(KArgs...), Args... args) {
  for (unsigned i = 0; i < cfg->numAttrs; i++)
    if (cfg->attrs[i].id == cudaLaunchAttributeClusterDimension && cfg->attrs[i].val.clusterDim.x > 1)
      simt::fail("thread-block clusters are not emulated");
  return simt::launch(kernel, simt::Config{cfg->gridDim, cfg->blockDim, cfg->dynamicSmemBytes, cfg->stream}, args...);
}
