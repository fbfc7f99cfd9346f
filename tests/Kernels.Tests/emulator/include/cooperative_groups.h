// The part of cooperative groups the kernels use: the thread-block cluster (its barrier, the block's rank, and
// distributed shared memory: a pointer into this block's shared memory mapped to another block's).
#pragma once
#include "simt.h"

namespace cooperative_groups {
struct cluster_group {
  void sync() const { simt::cluster_sync(); }
  unsigned block_rank() const { return (unsigned)simt::g_thread->rank; }
  template <typename T>
  T* map_shared_rank(T* p, int rank) const {
    const char* c = reinterpret_cast<const char*>(p);
    const char* mine = simt::arena(simt::g_thread->rank);
    if (c < mine || c >= mine + simt::kArenaBytes) simt::fail("map_shared_rank of a pointer outside shared memory");
    if (rank < 0 || rank >= simt::g_launch->cluster) simt::fail("map_shared_rank to a block outside the cluster");
    return reinterpret_cast<T*>(simt::arena(rank) + (c - mine));
  }
};
inline cluster_group this_cluster() { return {}; }
}  // namespace cooperative_groups
