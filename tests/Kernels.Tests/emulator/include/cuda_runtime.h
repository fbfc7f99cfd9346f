// The runtime API the kernel files call on the host side: launches (cudaLaunchKernelEx and, through the build's
// rewrite of kernel<<<...>>>(...), simt::launch), errors, memory, the driver entry point of cuTensorMapEncodeTiled
// (cuda.h), and a device of compute capability 9.0 with SIMT_SM_COUNT (default 132) multiprocessors.
#pragma once
#include "simt.h"

#include "../../cuda-types/cuda_types.h"

inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
  const char* sms = std::getenv("SIMT_SM_COUNT");
  *v = a == cudaDevAttrComputeCapabilityMajor ? 9 : sms ? std::atoi(sms) : 132;
  return cudaSuccess;
}
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) { return cudaSuccess; }
inline cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* s) {
  *s = cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
template <typename T>
inline cudaError_t cudaMalloc(T** p, size_t bytes) {
  *p = static_cast<T*>(std::malloc(bytes));
  return *p ? cudaSuccess : cudaErrorInvalidValue;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

namespace simt {
// kernel<<<grid, block, smem, stream>>>(args...): every thread calls the kernel with its own copy of the arguments.
struct Config {
  dim3 grid, block;
  size_t smem = 0;
  cudaStream_t stream = nullptr;
};
template <typename... KArgs, typename... Args>
cudaError_t launch_cluster(void (*kernel)(KArgs...), Config c, int cluster, Args... args) {
  const std::tuple<KArgs...> a(static_cast<KArgs>(args)...);
  run_grid(c.grid, c.block, cluster, c.smem, [&] { std::apply(kernel, std::tuple<KArgs...>(a)); });
  return cudaSuccess;
}
template <typename... KArgs, typename... Args>
cudaError_t launch(void (*kernel)(KArgs...), Config c, Args... args) {
  return launch_cluster(kernel, c, 1, args...);
}
}  // namespace simt

// The launch's cluster size along x (1 without the attribute).
inline int cluster_size(const cudaLaunchConfig_t* cfg) {
  int cluster = 1;
  for (unsigned i = 0; i < cfg->numAttrs; i++)
    if (cfg->attrs[i].id == cudaLaunchAttributeClusterDimension) {
      if (cfg->attrs[i].val.clusterDim.y != 1 || cfg->attrs[i].val.clusterDim.z != 1) simt::fail("clusters are emulated along x only");
      cluster = (int)cfg->attrs[i].val.clusterDim.x;
    }
  return cluster;
}

// Clusters held at once: the blocks that fit a multiprocessor's 2048 threads and 227 KiB of shared memory, in
// clusters that do not span a GPC. SIMT_GPC_SMS multiprocessors per GPC (the last one takes the rest of
// SIMT_SM_COUNT); unset, one GPC of them all.
template <typename F>
inline cudaError_t cudaOccupancyMaxActiveClusters(int* n, F, const cudaLaunchConfig_t* cfg) {
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  const int cluster = cluster_size(cfg);
  const int per_sm = (int)std::min<size_t>(2048 / cfg->blockDim.x, 227 * 1024 / std::max<size_t>(1, cfg->dynamicSmemBytes));
  const char* gpc_env = std::getenv("SIMT_GPC_SMS");
  const int gpc = gpc_env && std::atoi(gpc_env) > 0 ? std::atoi(gpc_env) : sms;
  *n = 0;
  for (int first = 0; first < sms; first += gpc) *n += std::min(gpc, sms - first) * per_sm / cluster;
  return cudaSuccess;
}
template <typename... KArgs, typename... Args>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* cfg, void (*kernel)(KArgs...), Args... args) {
  return simt::launch_cluster(kernel, simt::Config{cfg->gridDim, cfg->blockDim, cfg->dynamicSmemBytes, cfg->stream}, cluster_size(cfg), args...);
}

#include "cuda.h"
inline cudaError_t cudaGetDriverEntryPoint(const char* name, void** fn, int, cudaDriverEntryPointQueryResult* found) {
  const bool ok = std::strcmp(name, "cuTensorMapEncodeTiled") == 0;
  *fn = ok ? reinterpret_cast<void*>(&cuTensorMapEncodeTiled) : nullptr;
  *found = ok ? cudaDriverEntryPointSuccess : cudaDriverEntryPointSymbolNotFound;
  return cudaSuccess;
}
inline cudaError_t cudaGetDriverEntryPointByVersion(const char* name, void** fn, unsigned, int flags, cudaDriverEntryPointQueryResult* found) {
  return cudaGetDriverEntryPoint(name, fn, flags, found);
}
