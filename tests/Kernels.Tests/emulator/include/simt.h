// A host emulator of the CUDA execution model, enough to run the project's mma.sync kernels (groupwise_gemm.cu,
// groupwise_a16_aligned.cu, lut_gemm.cu) on a CPU with g++ and check their results, their memory accesses (AddressSanitizer,
// UndefinedBehaviorSanitizer's alignment checks) and their synchronisation, without a GPU.
//
// Model: the blocks of a grid run one after another; every thread of a block is a fiber (ucontext) on its own stack.
// A thread runs until it reaches __syncthreads() or a warp-wide instruction (mma.sync, ldmatrix), where it yields to
// the scheduler. __syncthreads releases when every thread that has not exited is waiting at one; a warp-wide
// instruction runs once, for all 32 lanes, when the whole warp waits at that same instruction, and then resumes them.
// Anything else (a lane missing, lanes at different instructions, threads of a block at different barriers) is the
// divergence a GPU would hang or compute garbage on: the emulator reports which threads wait where and aborts. The
// order in which ready threads run is shuffled (fixed seed) every round, so a missing barrier between shared-memory
// writes and reads shows up as wrong results instead of depending on a lucky order.
//
// The kernel sources are compiled as C++ against the CUDA headers next to this one (cuda_runtime.h forced in with
// -include, as nvcc does); mma.cuh and ptx_bits.cuh, the only headers with inline PTX, are replaced by
// tests/Kernels.Tests/emulator/overrides. Device memory is host memory.
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
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static  // one block at a time: a function-local static is the block's shared memory

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

enum class State { Ready, AtBarrier, AtWarpOp, Done };

// A warp-wide instruction: `run` is called once with the 32 lanes' argument blocks (lane order) when all have arrived.
using WarpOp = void (*)(void* const* lanes);

struct Thread {
  ucontext_t ctx;
  dim3 idx;
  State state = State::Ready;
  WarpOp op = nullptr;
  void* op_arg = nullptr;
};

struct Launch {
  dim3 grid, block;
  std::function<void()> body;  // one thread's kernel call
  std::vector<Thread> threads;
  ucontext_t scheduler;
  dim3 block_idx;
};

inline Launch* g_launch = nullptr;
inline Thread* g_thread = nullptr;
inline std::mt19937 g_order_rng(12345);

constexpr size_t kStackBytes = 256 * 1024;
struct Stack {
  char* p = static_cast<char*>(std::aligned_alloc(64, kStackBytes));
  ~Stack() { std::free(p); }
};
inline std::vector<std::unique_ptr<Stack>>& stacks() {  // one per thread of the largest block so far, reused
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
  before_switch(g_main_stack_bottom, g_main_stack_size);
  swapcontext(&me->ctx, &g_launch->scheduler);
  entered_fiber();
}

inline void thread_entry() {
  entered_fiber();
  g_launch->body();
  g_thread->state = State::Done;
  before_switch(g_main_stack_bottom, g_main_stack_size);
  setcontext(&g_launch->scheduler);
}

inline void syncthreads() { yield(State::AtBarrier); }

// Lane `arg` of a warp-wide instruction: returns after `op` has run for the whole warp.
inline void warp_op(WarpOp op, void* arg) {
  g_thread->op = op;
  g_thread->op_arg = arg;
  yield(State::AtWarpOp);
}

inline const char* state_name(State s) {
  switch (s) {
    case State::Ready: return "running";
    case State::AtBarrier: return "__syncthreads";
    case State::AtWarpOp: return "a warp-wide instruction";
    default: return "exited";
  }
}

// Every thread of one block, to completion.
inline void run_block(Launch& L) {
  const int n = (int)L.threads.size();
  for (int i = 0; i < n; i++) {
    Thread& t = L.threads[i];
    t.idx = dim3(i % L.block.x, (i / L.block.x) % L.block.y, i / (L.block.x * L.block.y));
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
    std::shuffle(order.begin(), order.end(), g_order_rng);
    for (int i : order) {
      Thread& t = L.threads[i];
      if (t.state != State::Ready) continue;
      g_thread = &t;
      threadIdx = t.idx;
      before_switch(t.ctx.uc_stack.ss_sp, kStackBytes);
      swapcontext(&L.scheduler, &t.ctx);
      entered_scheduler();
    }
    bool progress = false;
    for (int w = 0; w < (n + 31) / 32; w++) {
      Thread* lanes = &L.threads[32 * w];
      const int count = std::min(32, n - 32 * w);
      bool all = count == 32;
      for (int l = 0; l < count && all; l++) all = lanes[l].state == State::AtWarpOp && lanes[l].op == lanes[0].op;
      if (!all) continue;
      void* args[32];
      for (int l = 0; l < 32; l++) args[l] = lanes[l].op_arg;
      lanes[0].op(args);
      for (int l = 0; l < 32; l++) lanes[l].state = State::Ready;
      progress = true;
    }
    if (progress) continue;
    int live = 0, at_barrier = 0;
    for (auto& t : L.threads) {
      live += t.state != State::Done;
      at_barrier += t.state == State::AtBarrier;
    }
    if (live == 0) return;
    if (at_barrier == live) {
      for (auto& t : L.threads)
        if (t.state == State::AtBarrier) t.state = State::Ready;
      continue;
    }
    std::string why = "block (" + std::to_string(L.block_idx.x) + ", " + std::to_string(L.block_idx.y) + ", " +
                      std::to_string(L.block_idx.z) + ") cannot go on:";
    for (int i = 0; i < n; i++) {
      if (i % 32 == 0) why += "\n  warp " + std::to_string(i / 32) + ":";
      why += std::string(" ") + state_name(L.threads[i].state)[0];
    }
    fail(why + "\n  (e = exited, _ = at __syncthreads, a = at a warp-wide instruction; a warp-wide instruction needs all 32 lanes at the same one)");
  }
}

inline void run_grid(dim3 grid, dim3 block, std::function<void()> body) {
  const size_t threads = (size_t)block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535)
    fail("invalid launch configuration: grid (" + std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " +
         std::to_string(grid.z) + "), block of " + std::to_string(threads) + " threads");
  while (stacks().size() < threads) stacks().push_back(std::make_unique<Stack>());
  Launch L;
  L.grid = grid;
  L.block = block;
  L.body = std::move(body);
  L.threads.resize(threads);
  if (g_launch) fail("a launch from inside a kernel");
  g_launch = &L;
  blockDim = block;
  gridDim = grid;
  for (unsigned z = 0; z < grid.z; z++)
    for (unsigned y = 0; y < grid.y; y++)
      for (unsigned x = 0; x < grid.x; x++) {
        L.block_idx = blockIdx = dim3(x, y, z);
        run_block(L);
      }
  g_launch = nullptr;
}

// Shared-memory "addresses" (cvta.to.shared): 32-bit offsets from one anchor in this program's static data, where all
// __shared__ variables (function-local statics) live too.
inline char g_shared_anchor;
inline uint32_t shared_address(const void* p) { return (uint32_t)((const char*)p - &g_shared_anchor); }
inline void* shared_pointer(uint32_t a) { return &g_shared_anchor + (int32_t)a; }

}  // namespace simt


inline void __syncthreads() { simt::syncthreads(); }
inline uint64_t __cvta_generic_to_shared(const void* p) { return simt::shared_address(p); }

#include "device_functions.h"
