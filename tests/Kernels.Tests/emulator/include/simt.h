// A host emulator of the CUDA execution model, enough to run the project's kernels (the mma.sync ones and the Hopper
// TMA + wgmma ones) on a CPU with g++ and check their results, their memory accesses (AddressSanitizer,
// UndefinedBehaviorSanitizer's alignment checks) and their synchronisation, without a GPU.
//
// Model: the thread-block clusters of a grid run one after another (a block without clusters is a cluster of one);
// every thread of a cluster is a fiber (ucontext) on its own stack. A thread runs until it reaches a synchronisation
// point, where it yields to the scheduler:
// - __syncthreads() and named barriers (bar.sync id, count) release when the block's threads waiting at that id
//   number `count` (for id 0 without a count: every thread of the block that has not exited);
// - a cluster barrier releases when every live thread of the cluster waits at one;
// - a warp- or warpgroup-wide instruction (mma.sync, ldmatrix, wgmma and its fences) runs once, for all 32 or 128
//   threads, when the whole group waits at that same instruction;
// - an mbarrier wait spins (yields and is resumed next round) until the phase it waits for completes.
// Anything else is the divergence or deadlock a GPU would hang or compute garbage on: the emulator prints what every
// thread waits at and aborts. Ready threads run in a shuffled order (fixed seed) every round, so a missing barrier
// between shared-memory writes and reads shows up as wrong results instead of depending on a lucky order.
//
// Shared memory: one arena per block of the cluster, 1024-byte aligned, filled with 0xCD before the cluster starts and
// again once its block has exited. Dynamic shared memory (extern __shared__, rewritten by build.sh) starts at the
// arena's beginning; static __shared__ variables (rewritten by build.sh to static_shared) are laid out from its end,
// per launch, so every block of a cluster has its own. Shared-memory addresses (cvta.to.shared) are offsets into the
// thread's own arena.
//
// The kernel sources are compiled as C++ against the CUDA headers next to this one (cuda_runtime.h forced in with
// -include, as nvcc does); mma.cuh, ptx_bits.cuh, ptx_sm90.cuh and wgmma_f16.cuh, the headers with inline PTX, are
// replaced by tests/Kernels.Tests/emulator/overrides. Device memory is host memory.
#pragma once
#include <ucontext.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#define SIMT_EMULATOR 1  // for device code that only compute capability 9.0 compiles (row_ops.cuh's cluster_reduce)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __grid_constant__
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// The built-in variables: the scheduler sets them before it resumes a thread (threads switch only at its yields).
inline dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace simt {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "simt: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

enum class State { Ready, Spinning, AtBarrier, AtClusterBarrier, AtGroupOp, Done };

// A warp- or warpgroup-wide instruction: called once with the group's argument blocks (in thread order)
// when all of them have arrived.
using GroupOp = void (*)(void* const* lanes, int count);

struct Thread {
  ucontext_t ctx;
  dim3 idx, block;
  int rank = 0, local = 0;  // block's rank in the cluster, thread's index in its block
  State state = State::Ready;
  GroupOp op = nullptr;
  void* op_arg = nullptr;
  int op_size = 0;
  int bar_id = 0, bar_count = 0;  // AtBarrier: barrier id and expected threads (0: every live thread of the block)
};

struct Launch {
  dim3 grid, block;
  int cluster = 1;
  size_t dynamic_smem = 0;
  size_t static_smem = 0;  // bytes of static __shared__ variables, at the end of each arena
  std::unordered_map<const void*, size_t> static_offsets;  // a declaration's key → its offset in the arena
  std::function<void()> body;  // one thread's kernel call
  std::vector<Thread> threads;  // the cluster's, block by block
  int per_block = 0;
  ucontext_t scheduler;
};

inline Launch* g_launch = nullptr;
inline Thread* g_thread = nullptr;
inline uint64_t g_events = 0;  // anything that may let a waiting thread go on
inline std::mt19937 g_order_rng(12345);

// ---- shared memory ----
constexpr int kMaxCluster = 16;
constexpr size_t kArenaBytes = 232448;  // the most dynamic shared memory a block can ask for on a Hopper GPU
struct alignas(1024) Arena {
  char bytes[kArenaBytes];
};
inline Arena g_arenas[kMaxCluster];

inline char* arena(int rank) { return g_arenas[rank].bytes; }
inline uint32_t shared_address(const void* p) {
  const char* c = static_cast<const char*>(p);
  const char* mine = arena(g_thread ? g_thread->rank : 0);
  if (c < mine || c >= mine + kArenaBytes) fail("a shared-memory address of a pointer outside the block's shared memory");
  return (uint32_t)(c - mine);
}
// The pointer behind a shared address of `rank`'s block.
inline void* shared_pointer(uint32_t a, int rank) {
  if (a < kArenaBytes) return arena(rank) + a;
  fail("shared address " + std::to_string(a) + " is outside shared memory");
}
inline void* shared_pointer(uint32_t a) { return shared_pointer(a, g_thread->rank); }
template <typename T>
inline T* dynamic_shared() {
  return reinterpret_cast<T*>(arena(g_thread->rank));
}
// The bytes of every arena that 0xCD fills: the dynamic part (and 1 KB past it) and the static variables at the end.
inline void poison_arena(int rank, size_t dynamic_smem, size_t static_smem) {
  std::memset(arena(rank), 0xCD, std::min(dynamic_smem + 1024, kArenaBytes));
  std::memset(arena(rank) + kArenaBytes - static_smem, 0xCD, static_smem);
}
// The arena offset of the static __shared__ variable `key` stands for, placed below the ones already placed in this
// launch (16-byte aligned at least, like nvcc's), poisoned in every block of the cluster.
inline size_t static_offset(const void* key, size_t bytes, size_t align);
// A static __shared__ variable of type T (an array type too) in this thread's block: build.sh rewrites
// `__shared__ T name[N];` as `T (&name)[N] = simt::static_shared<T[N]>([] {});`. The lambda's type, distinct for each
// declaration and each template instantiation around it, makes the key.
template <typename T, typename Site>
inline T& static_shared(Site) {
  static const char key = 0;
  return *reinterpret_cast<T*>(arena(g_thread->rank) + static_offset(&key, sizeof(T), std::max<size_t>(alignof(T), 16)));
}

// ---- fibers ----
constexpr size_t kStackBytes = 256 * 1024;
struct Stack {
  char* p = static_cast<char*>(std::aligned_alloc(64, kStackBytes));
  ~Stack() { std::free(p); }
};
inline std::vector<std::unique_ptr<Stack>>& stacks() {  // one per thread of the largest cluster so far, reused
  static std::vector<std::unique_ptr<Stack>> s;
  return s;
}

// AddressSanitizer must be told about every stack switch. The scheduler's stack bounds are learnt on the first
// switch into a fiber.
inline const void* g_main_stack_bottom = nullptr;
inline size_t g_main_stack_size = 0;
#if defined(__SANITIZE_ADDRESS__)
inline void* g_fake_stack = nullptr;
inline void before_switch(const void* bottom, size_t size) { __sanitizer_start_switch_fiber(&g_fake_stack, bottom, size); }
inline void entered_fiber() { __sanitizer_finish_switch_fiber(g_fake_stack, &g_main_stack_bottom, &g_main_stack_size); }
inline void entered_scheduler() { __sanitizer_finish_switch_fiber(g_fake_stack, nullptr, nullptr); }
#else
inline void before_switch(const void*, size_t) {}
inline void entered_fiber() {}
inline void entered_scheduler() {}
#endif

// From a thread back to the scheduler, which resumes it later.
inline void yield(State s) {
  Thread* me = g_thread;
  me->state = s;
  if (s != State::Spinning) g_events++;
  before_switch(g_main_stack_bottom, g_main_stack_size);
  swapcontext(&me->ctx, &g_launch->scheduler);
  entered_fiber();
}

// A block whose threads have all exited gives its shared memory back at once: on a GPU another block may take it, so
// a cluster peer still reading it reads garbage.
inline void release_arena_if_exited(const Launch& L, int rank) {
  for (int i = 0; i < L.per_block; i++)
    if (L.threads[rank * L.per_block + i].state != State::Done) return;
  poison_arena(rank, L.dynamic_smem, L.static_smem);
}

inline size_t static_offset(const void* key, size_t bytes, size_t align) {
  Launch& L = *g_launch;
  if (auto it = L.static_offsets.find(key); it != L.static_offsets.end()) return it->second;
  const size_t end = (L.static_smem + bytes + align - 1) / align * align;  // kArenaBytes is a multiple of 1024
  if (end > kArenaBytes - L.dynamic_smem) fail("static and dynamic shared memory together exceed a block's");
  for (int r = 0; r < L.cluster; r++) std::memset(arena(r) + kArenaBytes - end, 0xCD, end - L.static_smem);
  L.static_smem = end;
  return L.static_offsets[key] = kArenaBytes - end;
}

inline void thread_entry() {
  entered_fiber();
  g_launch->body();
  g_thread->state = State::Done;
  release_arena_if_exited(*g_launch, g_thread->rank);
  g_events++;
  before_switch(g_main_stack_bottom, g_main_stack_size);
  setcontext(&g_launch->scheduler);
}

// bar.sync id, count (count 0: every live thread of the block).
inline void barrier(int id, int count) {
  g_thread->bar_id = id;
  g_thread->bar_count = count;
  yield(State::AtBarrier);
}
inline void syncthreads() { barrier(0, 0); }
inline void cluster_sync() { yield(State::AtClusterBarrier); }
// One failed poll of a condition another thread or a copy will make true: try again next round.
inline void spin() { yield(State::Spinning); }

// This thread's part `arg` of a `size`-thread instruction (32: warp, 128: warpgroup); returns after `op` has run.
inline void group_op(GroupOp op, void* arg, int size) {
  g_thread->op = op;
  g_thread->op_arg = arg;
  g_thread->op_size = size;
  yield(State::AtGroupOp);
}
inline void warp_op(GroupOp op, void* arg) { group_op(op, arg, 32); }

inline char state_letter(State s) {
  switch (s) {
    case State::Ready: return 'r';
    case State::Spinning: return 's';
    case State::AtBarrier: return '_';
    case State::AtClusterBarrier: return 'c';
    case State::AtGroupOp: return 'a';
    default: return 'e';
  }
}

// Releases whatever collective can go on; returns whether anything did.
inline bool release(Launch& L) {
  bool any = false;
  const int n = (int)L.threads.size(), nb = L.per_block;
  // Warp- and warpgroup-wide instructions.
  for (int i = 0; i < n; i++) {
    Thread& first = L.threads[i];
    if (first.state != State::AtGroupOp || first.local % first.op_size != 0 || first.local + first.op_size > nb) continue;
    bool all = true;
    for (int l = 1; l < first.op_size && all; l++) {
      const Thread& o = L.threads[i + l];
      all = o.state == State::AtGroupOp && o.op == first.op && o.op_size == first.op_size;
    }
    if (!all) continue;
    std::vector<void*> args(first.op_size);
    for (int l = 0; l < first.op_size; l++) args[l] = L.threads[i + l].op_arg;
    first.op(args.data(), first.op_size);
    for (int l = 0; l < first.op_size; l++) L.threads[i + l].state = State::Ready;
    any = true;
  }
  // Block barriers, per block and id.
  for (int b = 0; b < n / nb; b++) {
    Thread* t = &L.threads[b * nb];
    int live = 0;
    for (int i = 0; i < nb; i++) live += t[i].state != State::Done;
    for (int i = 0; i < nb; i++) {
      if (t[i].state != State::AtBarrier) continue;
      const int id = t[i].bar_id, want = t[i].bar_count ? t[i].bar_count : live;
      int waiting = 0;
      for (int j = 0; j < nb; j++) waiting += t[j].state == State::AtBarrier && t[j].bar_id == id;
      if (waiting != want) continue;
      for (int j = 0; j < nb; j++)
        if (t[j].state == State::AtBarrier && t[j].bar_id == id) t[j].state = State::Ready;
      any = true;
    }
  }
  // The cluster barrier.
  int live = 0, at = 0;
  for (auto& t : L.threads) live += t.state != State::Done, at += t.state == State::AtClusterBarrier;
  if (at > 0 && at == live) {
    for (auto& t : L.threads) t.state = State::Ready;
    any = true;
  }
  return any;
}

[[noreturn]] inline void deadlock(const Launch& L) {
  const Thread& first = L.threads[0];
  std::string why = "cluster of block (" + std::to_string(first.block.x) + ", " + std::to_string(first.block.y) + ", " +
                    std::to_string(first.block.z) + ") cannot go on:";
  for (int i = 0; i < (int)L.threads.size(); i++) {
    if (i % 32 == 0) why += "\n  block rank " + std::to_string(L.threads[i].rank) + " warp " + std::to_string(L.threads[i].local / 32) + ":";
    why += ' ';
    why += state_letter(L.threads[i].state);
  }
  fail(why +
       "\n  (e = exited, _ = at a block barrier, c = at the cluster barrier, a = at a warp-wide instruction, s = waiting on an "
       "mbarrier; a warp-wide instruction needs all its threads at the same one)");
}

// ---- state of asynchronous operations (used by overrides/ptx_sm90.cuh) ----
// An mbarrier: a phase completes when `pending` arrivals and `tx` bytes have come in; then the next phase starts.
struct MBarrier {
  int expected = 0, pending = 0;
  int64_t tx = 0;
  unsigned phase = 0;
};
inline std::unordered_map<const void*, MBarrier> g_mbarriers;  // by address, (re)made by mbarrier.init
// A warpgroup's asynchronous MMAs not yet waited for: committed groups, oldest first, then the open one.
struct AsyncGroups {
  std::vector<std::vector<std::function<void()>>> committed;
  std::vector<std::function<void()>> open;
};
inline std::unordered_map<int, AsyncGroups> g_async;  // by rank · 8 + warpgroup of the block

inline void on_cluster_start() {
  g_mbarriers.clear();
  g_async.clear();
}
inline void on_cluster_end() {
  for (auto& [key, q] : g_async)
    if (!q.committed.empty() || !q.open.empty())
      fail("warpgroup " + std::to_string(key % 8) + " of block rank " + std::to_string(key / 8) + " exited with warpgroup MMAs never waited for");
}

// The blocks first_x .. first_x + cluster - 1 (row y, slice z) together, to completion.
inline void run_cluster(Launch& L, unsigned first_x, unsigned y, unsigned z) {
  const int nb = L.per_block, n = nb * L.cluster;
  for (int r = 0; r < L.cluster; r++) poison_arena(r, L.dynamic_smem, L.static_smem);
  on_cluster_start();
  for (int i = 0; i < n; i++) {
    Thread& t = L.threads[i];
    t.rank = i / nb;
    t.local = i % nb;
    t.idx = dim3(t.local % L.block.x, (t.local / L.block.x) % L.block.y, t.local / (L.block.x * L.block.y));
    t.block = dim3(first_x + t.rank, y, z);
    t.state = State::Ready;
    t.op = nullptr;
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = stacks()[i]->p;
    t.ctx.uc_stack.ss_size = kStackBytes;
    t.ctx.uc_link = nullptr;
    makecontext(&t.ctx, thread_entry, 0);
  }
  std::vector<int> order(n);
  for (int i = 0; i < n; i++) order[i] = i;
  for (;;) {
    const uint64_t before = g_events;
    std::shuffle(order.begin(), order.end(), g_order_rng);
    for (int i : order) {
      Thread& t = L.threads[i];
      if (t.state != State::Ready && t.state != State::Spinning) continue;
      g_thread = &t;
      threadIdx = t.idx;
      blockIdx = t.block;
      before_switch(t.ctx.uc_stack.ss_sp, kStackBytes);
      swapcontext(&L.scheduler, &t.ctx);
      entered_scheduler();
    }
    g_thread = nullptr;
    const bool released = release(L);
    bool done = true;
    for (auto& t : L.threads) done = done && t.state == State::Done;
    if (done) break;
    if (!released && g_events == before) deadlock(L);
  }
  on_cluster_end();
}

inline void run_grid(dim3 grid, dim3 block, int cluster, size_t dynamic_smem, std::function<void()> body) {
  const size_t threads = (size_t)block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535)
    fail("invalid launch configuration: grid (" + std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " +
         std::to_string(grid.z) + "), block of " + std::to_string(threads) + " threads");
  if (cluster < 1 || cluster > kMaxCluster || grid.x % cluster != 0)
    fail("invalid cluster of " + std::to_string(cluster) + " blocks for a grid " + std::to_string(grid.x) + " blocks wide");
  if (dynamic_smem > kArenaBytes) fail("dynamic shared memory of " + std::to_string(dynamic_smem) + " bytes exceeds a block's");
  while (stacks().size() < threads * cluster) stacks().push_back(std::make_unique<Stack>());
  Launch L;
  L.grid = grid;
  L.block = block;
  L.cluster = cluster;
  L.dynamic_smem = dynamic_smem;
  L.body = std::move(body);
  L.per_block = (int)threads;
  L.threads.resize(threads * cluster);
  if (g_launch) fail("a launch from inside a kernel");
  g_launch = &L;
  blockDim = block;
  gridDim = grid;
  for (unsigned z = 0; z < grid.z; z++)
    for (unsigned y = 0; y < grid.y; y++)
      for (unsigned x = 0; x < grid.x; x += cluster) run_cluster(L, x, y, z);
  g_launch = nullptr;
}

}  // namespace simt

inline void __syncthreads() { simt::syncthreads(); }
inline void __syncwarp(unsigned = 0xFFFFFFFFu) {
  simt::warp_op([](void* const*, int) {}, nullptr);
}
inline uint64_t __cvta_generic_to_shared(const void* p) { return simt::shared_address(p); }

#include "device_functions.h"
