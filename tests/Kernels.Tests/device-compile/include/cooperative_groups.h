// The part of cooperative groups the kernels use: the thread-block cluster (its barrier, the block's rank, and a
// pointer into this block's shared memory mapped to another block's), on clang's NVVM builtins.
#pragma once
#include "cuda_runtime.h"

namespace cooperative_groups {
struct cluster_group {
  __device__ void sync() const {
    __nvvm_barrier_cluster_arrive();
    __nvvm_barrier_cluster_wait();
  }
  __device__ unsigned block_rank() const { return __nvvm_read_ptx_sreg_cluster_ctarank(); }
  template <typename T>
  __device__ T* map_shared_rank(T* p, int rank) const {
    return static_cast<T*>(__nvvm_mapa(const_cast<void*>(static_cast<const void*>(p)), rank));
  }
};
__device__ inline cluster_group this_cluster() { return {}; }
}  // namespace cooperative_groups
