// Programmatic dependent launch (Hopper): a weight-streaming GEMM is launched while the kernel before it (the norm or
// activation kernel that writes its input) is still running, issues its first weight loads, and only then waits for
// that kernel's results. In a decode step, where each GEMM takes a few microseconds, this hides the GEMM's launch and
// first DRAM round trip behind its producer. Graph capture keeps the programmatic edges.
// Nothing more is prefetched into L2 before the wait: 2 KiB per weight row makes batch-1 W8A8 decode 223.6 against
// 229.9 tok/s on an H100 (docs/benchmarks/h100-w8a8.json: kernel_decisions, l2_weight_prefetch_before_wait).
#pragma once
#include <cuda_runtime.h>
#include <algorithm>
#include "dtype_convert.cuh"

// In a kernel launched with launch_pdl: blocks until the previous kernel in the stream has finished and its writes are
// visible. Every such kernel calls it on every path before reading inputs or writing outputs (so that kernels after
// it also see everything before it). A no-op for ordinary launches.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// In any kernel: lets a PDL-launched successor start its blocks now (it still waits for this kernel's completion
// before touching its results). A no-op when the successor was launched normally.
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
}

// The start of a dependent-launched kernel that needs its producer's results before anything else: wait for them,
// then let the next kernel launch.
__device__ __forceinline__ void pdl_start() {
  pdl_wait();
  pdl_launch_dependents();
}

// Whether kernels are launched programmatically: on compute capability 9.0+ unless INFERENCE_PDL=0 (for comparisons).
inline bool pdl_enabled() {
  static const bool enabled = !env_switched_off("INFERENCE_PDL") && device_cc_major() >= 9;
  return enabled;
}

// kernel<<<grid, block, smem, stream>>>(args...), as a programmatic dependent launch where pdl_enabled(), in
// thread-block clusters of `cluster` blocks along x when cluster > 1 (compute capability 9.0+ only).
template <typename... KArgs, typename... Args>
cudaError_t launch_pdl_cluster(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, int cluster,
                               Args... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[2];
  int n = 0;
  if (pdl_enabled()) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n++].val.programmaticStreamSerializationAllowed = 1;
  }
  if (cluster > 1) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = cluster;
    attr[n].val.clusterDim.y = 1;
    attr[n++].val.clusterDim.z = 1;
  }
  cfg.attrs = attr;
  cfg.numAttrs = n;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
}

// kernel<<<grid, block, smem, stream>>>(args...), as a programmatic dependent launch where pdl_enabled().
template <typename... KArgs, typename... Args>
cudaError_t launch_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args... args) {
  return launch_pdl_cluster(kernel, grid, block, smem, stream, 1, args...);
}

// How many clusters of `cluster` blocks of Kernel (`threads` per block, `smem` dynamic bytes) the current device holds
// at once, asked once per cluster size. A cluster's blocks share one GPC, so where the GPCs' SM counts are not
// multiples of the cluster size this is below SMs / cluster. SMs / cluster when it cannot be asked.
template <auto Kernel>
int resident_clusters(int threads, int smem, int cluster) {
  static int known[9] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};  // by cluster size, −1: not asked yet
  if (cluster < 1 || cluster > 8) return 0;
  if (known[cluster] < 0) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(cluster);
    cfg.blockDim = dim3(threads);
    cfg.dynamicSmemBytes = smem;
    cudaLaunchAttribute attr;
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = cluster;
    attr.val.clusterDim.y = 1;
    attr.val.clusterDim.z = 1;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    int count = 0;
    known[cluster] = cudaOccupancyMaxActiveClusters(&count, Kernel, &cfg) == cudaSuccess ? count : std::max(1, sm_count() / cluster);
  }
  return known[cluster];
}

// The largest cluster size up to `split` at which the device holds the clusters of all `tiles` at once (1 at least):
// clusters that did not fit would run their whole share of the work as a second round.
template <auto Kernel>
int resident_split(int split, int tiles, int threads, int smem) {
  split = std::max(1, split);
  while (split > 1 && resident_clusters<Kernel>(threads, smem, split) < tiles) split--;
  return split;
}
