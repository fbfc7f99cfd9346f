// The emulator's own detection of divergence and missing barriers.
#include "check_support.h"
#include "mma.cuh"

namespace checks {

// ---- the emulator's own checks ----

// Lane 0 of each warp skips the MMA the other 31 lanes issue: a GPU would hang or compute garbage; the emulator must
// stop and say so (the caller expects this program to abort with "cannot go on").
__global__ void divergent_mma_kernel(float* out) {
  float d[4] = {0.f, 0.f, 0.f, 0.f};
  if (threadIdx.x % 32 != 0) mma_f16_16x8x16<true>(d, 0u, 0u, 0u, 0u, 0u, 0u);
  out[threadIdx.x] = d[0];
}

// Each thread writes its slot of shared memory and reads its neighbour's, with or without the barrier in between.
// Without it, the shuffled thread order must make some reads see the slot before it was written.
__global__ void neighbour_kernel(int* out, bool barrier) {
  __shared__ int slot[128];
  slot[threadIdx.x] = 0;
  __syncthreads();
  slot[threadIdx.x] = (int)threadIdx.x + 1;
  if (barrier) __syncthreads();
  out[threadIdx.x] = slot[(threadIdx.x + 1) % 128];
}

int selftest(int argc, char** argv) {
  if (argc != 3) usage("selftest takes 1 argument");
  const std::string what = argv[2];
  if (what == "divergence") {
    Buffer<float> out(64);
    simt::launch(divergent_mma_kernel, simt::Config{1, 64}, out.p);
    std::printf("FAIL selftest divergence: a warp-wide instruction without all its lanes ran\n");
    return 1;
  }
  if (what == "barrier") {
    Buffer<int> out(128);
    int stale[2] = {0, 0};
    for (int barrier = 0; barrier < 2; barrier++) {
      simt::launch(neighbour_kernel, simt::Config{1, 128}, out.p, barrier == 1);
      for (int i = 0; i < 128; i++) stale[barrier] += out[i] != (i + 1) % 128 + 1;
    }
    const bool ok = stale[0] > 0 && stale[1] == 0;
    std::printf("%s selftest barrier: %d of 128 reads stale without the barrier, %d with it\n", ok ? "ok" : "FAIL", stale[0], stale[1]);
    return ok ? 0 : 1;
  }
  usage(("unknown selftest " + what).c_str());
}

}  // namespace checks
