// CUDA's vector types and the device intrinsics the emulated kernels use, with the device's meaning. Loads check the
// alignment the device requires (a misaligned vector load faults there).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(8) int2 { int x, y; };
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }

namespace simt {
template <typename T>
inline void check_aligned(const T* p, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % alignof(T) != 0)
    fail(std::string(what) + ": misaligned " + std::to_string(sizeof(T)) + "-byte load at " +
         std::to_string(reinterpret_cast<uintptr_t>(p)));
}
}  // namespace simt

// ld.global.nc: a plain load here.
template <typename T>
inline T __ldg(const T* p) {
  simt::check_aligned(p, "__ldg");
  return *p;
}

// ld.global.cg (through L2 only): a plain load here, where no cache can hold a stale line.
template <typename T>
inline T __ldcg(const T* p) {
  simt::check_aligned(p, "__ldcg");
  return *p;
}

// Byte i of the result is byte (s >> 4i) & 7 of the 8 bytes {y, x} (x's bytes 0-3).
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
  const uint64_t v = (uint64_t)y << 32 | x;
  unsigned r = 0;
  for (int i = 0; i < 4; i++) r |= (unsigned)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xFF) << (8 * i);
  return r;
}

inline int __ffs(int v) { return __builtin_ffs(v); }
inline float __expf(float v) { return std::exp(v); }
inline float rsqrtf(float v) { return 1.f / std::sqrt(v); }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __frcp_rn(float a) { return 1.f / a; }
// Threads run one at a time between synchronisation points and clusters one after another: a read-modify-write is
// atomic as it stands, and every write is visible to whatever runs after it.
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  const unsigned old = *p;
  *p = old + v;
  return old;
}
inline void __threadfence() {}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }

// __shfl_xor_sync over the whole warp: lane l gets lane (l ^ mask)'s value.
namespace simt {
template <typename T>
struct ShuffleArgs {
  T value, result;
  int lane_mask;
};
template <typename T>
inline void shuffle_xor_op(void* const* lanes, int) {
  for (int l = 0; l < 32; l++) {
    auto* a = static_cast<ShuffleArgs<T>*>(lanes[l]);
    a->result = static_cast<const ShuffleArgs<T>*>(lanes[l ^ a->lane_mask])->value;
  }
}
}  // namespace simt
template <typename T>
inline T __shfl_xor_sync(unsigned member_mask, T value, int lane_mask) {
  if (member_mask != 0xFFFFFFFFu) simt::fail("__shfl_xor_sync is emulated for whole warps only");
  if (lane_mask < 0 || lane_mask > 31) simt::fail("__shfl_xor_sync lane mask outside 0-31");
  simt::ShuffleArgs<T> a{value, T(), lane_mask};
  simt::warp_op(simt::shuffle_xor_op<T>, &a);
  return a.result;
}
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, 4);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  std::memcpy(&v, &f, 4);
  return v;
}

// min/max as CUDA declares them for device code (the kernels call them unqualified, on ints and 64-bit ints).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
