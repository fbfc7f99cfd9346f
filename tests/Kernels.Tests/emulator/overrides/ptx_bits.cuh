// Host versions of src/Kernels/csrc/ptx_bits.cuh.
#pragma once
#include <cstdint>

// lop3.b32: bit i of the result is bit (a_i·4 + b_i·2 + c_i) of Lut.
template <uint32_t Lut>
inline uint32_t lop3(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t r = 0;
  for (int i = 0; i < 8; i++)
    if (Lut >> i & 1) r |= (i & 4 ? a : ~a) & (i & 2 ? b : ~b) & (i & 1 ? c : ~c);
  return r;
}

// prmt.b32, default mode: nibble i of sel picks byte (sel_i & 7) of {b, a}; with bit 3 set, that byte's sign fills
// the result byte.
inline uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  const uint64_t v = (uint64_t)b << 32 | a;
  uint32_t r = 0;
  for (int i = 0; i < 4; i++) {
    const uint32_t nib = sel >> (4 * i) & 0xF, byte = (uint32_t)(v >> (8 * (nib & 7)) & 0xFF);
    r |= (nib & 8 ? (byte & 0x80 ? 0xFFu : 0u) : byte) << (8 * i);
  }
  return r;
}
