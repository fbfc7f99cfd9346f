// Host versions of src/Kernels/csrc/ptx_sm90.cuh (same names and signatures). mbarriers keep their phase, pending
// arrivals and transaction bytes in the emulator (simt.h); a TMA copy happens when it is issued, zero-filling outside
// the tensor and writing the 128-byte swizzle, and completes its bytes on the mbarrier at once; warpgroup MMAs are
// recorded when issued and computed when a wait retires their commit group, reading the A registers, the shared-memory
// operands and the accumulators as they are then (so a kernel that touches them before the wait gets wrong results,
// as it would on the device).
#pragma once
#include <cuda.h>
#include <cstdint>
#include <functional>
#include "mma.cuh"

#define IK_DEVICE_WGMMA 1

namespace simt_sm90 {

inline int warpgroup_key() { return simt::g_thread->rank * 8 + simt::g_thread->local / 128; }

// Byte `b` of row `r` of a K-major, 128-byte swizzled operand through its shared-memory descriptor (start address
// bits 0-13, stride between 8-row groups bits 32-45, both in 16-byte units; swizzle mode bits 62-63): the address of
// row r is start + (r / 8)·stride + (r % 8)·128, and the swizzle XORs address bits 4-6 with bits 7-9.
inline const uint8_t* desc_byte(uint64_t desc, int r, int b, int rank) {
  if ((desc >> 62) != 1) simt::fail("only K-major operands with the 128-byte swizzle are emulated");
  const uint32_t start = (uint32_t)(desc & 0x3FFF) << 4, stride = (uint32_t)((desc >> 32) & 0x3FFF) << 4;
  const uint32_t a = start + (uint32_t)(r / 8) * stride + (uint32_t)(r % 8) * 128 + (uint32_t)b;
  return static_cast<const uint8_t*>(simt::shared_pointer(a ^ (((a >> 7) & 7) << 4), rank));
}

// Lane l of a warpgroup (warp w = l / 32, g = l % 32 / 4, t = l % 4) holds accumulator element e of column block j at
// row 16w + g (+8 for e ≥ 2), column 8j + 2t + (e & 1).
inline int acc_row(int l, int e) { return 16 * (l / 32) + (l % 32) / 4 + (e >= 2 ? 8 : 0); }
inline int acc_col(int l, int j, int e) { return 8 * j + 2 * (l % 4) + (e & 1); }

struct S8Args {
  int* d;
  uint64_t da, db;
  int rank, key;
};
template <int N>
void s8_issue(void* const* lanes, int) {
  const auto& first = *static_cast<const S8Args*>(lanes[0]);
  std::vector<int*> d(128);
  for (int l = 0; l < 128; l++) d[l] = static_cast<const S8Args*>(lanes[l])->d;
  const uint64_t da = first.da, db = first.db;
  const int rank = first.rank;
  simt::g_async[first.key].open.push_back([d, da, db, rank] {
    static int A[64][32], B[N][32];
    for (int r = 0; r < 64; r++)
      for (int b = 0; b < 32; b++) A[r][b] = (int8_t)*desc_byte(da, r, b, rank);
    for (int n = 0; n < N; n++)
      for (int b = 0; b < 32; b++) B[n][b] = (int8_t)*desc_byte(db, n, b, rank);
    for (int l = 0; l < 128; l++)
      for (int j = 0; j < N / 8; j++)
        for (int e = 0; e < 4; e++) {
          const int row = acc_row(l, e), col = acc_col(l, j, e);
          int s = 0;
          for (int b = 0; b < 32; b++) s += A[row][b] * B[col][b];
          d[l][4 * j + e] += s;
        }
  });
}

struct GroupArgs {
  int key, n;
};
inline void commit_op(void* const* lanes, int) {
  auto& q = simt::g_async[static_cast<const GroupArgs*>(lanes[0])->key];
  q.committed.push_back(std::move(q.open));
  q.open.clear();
}
inline void wait_op(void* const* lanes, int) {
  const auto& a = *static_cast<const GroupArgs*>(lanes[0]);
  auto& q = simt::g_async[a.key];
  while ((int)q.committed.size() > a.n) {
    for (auto& op : q.committed.front()) op();
    q.committed.erase(q.committed.begin());
  }
}

inline simt::MBarrier& mbarrier(const uint64_t* bar) {
  auto it = simt::g_mbarriers.find(bar);
  if (it == simt::g_mbarriers.end()) simt::fail("mbarrier used before mbarrier.init");
  return it->second;
}
inline void settle(simt::MBarrier& m) {
  if (m.pending == 0 && m.tx == 0) {
    m.phase++;
    m.pending = m.expected;
    simt::g_events++;
  }
}
inline void complete_tx(uint64_t* bar, int64_t bytes) {
  auto& m = mbarrier(bar);
  m.tx -= bytes;
  simt::g_events++;
  settle(m);
}

// The box at coordinates c (innermost first) of the map into shared memory at dst.
inline void tma_load(void* dst, const CUtensorMap* map, const int* c, int dims, uint64_t* bar) {
  const simt::TensorMap& m = simt::tensor_map(map);
  if (m.rank != dims) simt::fail("a " + std::to_string(dims) + "-d TMA copy of a rank-" + std::to_string(m.rank) + " tensor map");
  const uint32_t at = simt::shared_address(dst);
  const bool swizzled = m.swizzle == CU_TENSOR_MAP_SWIZZLE_128B;
  if (m.swizzle != CU_TENSOR_MAP_SWIZZLE_NONE && !swizzled) simt::fail("only the 128-byte swizzle is emulated");
  if (at % (swizzled ? 1024 : 128) != 0) simt::fail("TMA destination not aligned to " + std::to_string(swizzled ? 1024 : 128) + " bytes");
  const uint32_t inner = m.box[0] * (uint32_t)m.elem;
  uint64_t rows = 1;
  for (int d = 1; d < dims; d++) rows *= m.box[d];
  for (uint64_t r = 0; r < rows; r++) {
    int64_t coord[5];
    uint64_t rest = r;
    bool inside = true;
    int64_t src = 0;
    for (int d = 1; d < dims; d++) {
      coord[d] = c[d] + (int64_t)(rest % m.box[d]);
      rest /= m.box[d];
      inside = inside && coord[d] >= 0 && (uint64_t)coord[d] < m.dims[d];
      src += coord[d] * (int64_t)m.strides[d];
    }
    for (uint32_t i = 0; i < m.box[0]; i++) {
      const int64_t x = c[0] + (int64_t)i;
      const bool ok = inside && x >= 0 && (uint64_t)x < m.dims[0];
      for (int byte = 0; byte < m.elem; byte++) {
        uint32_t a = at + (uint32_t)(r * inner + i * m.elem + byte);
        if (swizzled) a ^= ((a >> 7) & 7) << 4;
        *static_cast<uint8_t*>(simt::shared_pointer(a)) = ok ? m.base[src + x * m.elem + byte] : 0;
      }
    }
  }
  complete_tx(bar, (int64_t)inner * (int64_t)rows);
}

}  // namespace simt_sm90

inline void wgmma_fence() {}
inline void wgmma_commit() {
  simt_sm90::GroupArgs a{simt_sm90::warpgroup_key(), 0};
  simt::group_op(simt_sm90::commit_op, &a, 128);
}
template <int N>
inline void wgmma_wait() {
  simt_sm90::GroupArgs a{simt_sm90::warpgroup_key(), N};
  simt::group_op(simt_sm90::wait_op, &a, 128);
}

template <int R>
inline void regs_down() {}
template <int R>
inline void regs_up() {}

inline void bar_init(uint64_t* bar, int count) {
  simt::g_mbarriers[bar] = simt::MBarrier{count, count, 0, 0};
}
inline void bar_arrive(uint64_t* bar) {
  auto& m = simt_sm90::mbarrier(bar);
  if (m.pending <= 0) simt::fail("an mbarrier arrival beyond its expected count");
  m.pending--;
  simt::g_events++;
  simt_sm90::settle(m);
}
inline void bar_arrive_expect_bytes(uint64_t* bar, uint32_t bytes) {
  simt_sm90::mbarrier(bar).tx += bytes;
  bar_arrive(bar);
}
inline void bar_init_fence() {}
// try_wait.parity P succeeds once the phase of parity P has completed, i.e. while the current phase's parity is not P.
inline void bar_wait(uint64_t* bar, int parity) {
  while ((simt_sm90::mbarrier(bar).phase & 1) == (unsigned)(parity & 1)) simt::spin();
}

inline void named_barrier_sync(int id, int threads) {
  if (id < 1 || id > 15 || threads % 32 != 0) simt::fail("bar.sync " + std::to_string(id) + ", " + std::to_string(threads));
  simt::barrier(id, threads);
}

inline void tma_load_2d(void* dst, const CUtensorMap* map, int c0, int c1, uint64_t* bar) {
  const int c[2] = {c0, c1};
  simt_sm90::tma_load(dst, map, c, 2, bar);
}
inline void tma_load_3d(void* dst, const CUtensorMap* map, int c0, int c1, int c2, uint64_t* bar) {
  const int c[3] = {c0, c1, c2};
  simt_sm90::tma_load(dst, map, c, 3, bar);
}

// D[64×N] += A[64×32] · B[32×N] (s8), both operands through descriptors; the layout of d as in the device header.
template <int N>
inline void wgmma_s8(int (&d)[N / 2], uint64_t da, uint64_t db) {
  simt_sm90::S8Args a{d, da, db, simt::g_thread->rank, simt_sm90::warpgroup_key()};
  simt::group_op(simt_sm90::s8_issue<N>, &a, 128);
}
