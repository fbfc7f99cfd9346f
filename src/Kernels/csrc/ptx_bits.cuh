// Bit-level PTX instructions in forms CUDA's intrinsics do not offer. Like mma.cuh, the kernel emulator
// (tests/Kernels.Tests/emulator) replaces this header with host code of the same meaning.
#pragma once
#include <cstdint>

// lop3.b32: any bitwise function of three inputs; Lut is its truth table, the function applied to a = 0xF0, b = 0xCC,
// c = 0xAA (so (a & b) | c is 0xEA).
template <uint32_t Lut>
__device__ __forceinline__ uint32_t lop3(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t v;
  asm("lop3.b32 %0, %1, %2, %3, %4;" : "=r"(v) : "r"(a), "r"(b), "r"(c), "n"(Lut));
  return v;
}

// prmt.b32, default mode: byte i of the result is byte (sel >> 4i) & 7 of the 8 bytes {b, a} (a's bytes 0-3), or
// that byte's bit 7 copied into all 8 bits when bit 3 of the nibble is set. __byte_perm has no such sign mode.
__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t v;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(v) : "r"(a), "r"(b), "r"(sel));
  return v;
}
