// CUDA's vector types and dim3 as the kernel files use them (the layouts and alignments of CUDA's vector_types.h).
#pragma once
#define VT2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; };
#define VT4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; };
struct char1 { signed char x; };
struct uchar1 { unsigned char x; };
struct __attribute__((aligned(2))) char2 { signed char x, y; };
struct __attribute__((aligned(2))) uchar2 { unsigned char x, y; };
struct __attribute__((aligned(4))) char4 { signed char x, y, z, w; };
struct __attribute__((aligned(4))) uchar4 { unsigned char x, y, z, w; };
VT2(short, short, 4) VT4(short, short, 8) VT2(unsigned short, ushort, 4) VT4(unsigned short, ushort, 8)
VT2(int, int, 8) VT4(int, int, 16) VT2(unsigned, uint, 8) VT4(unsigned, uint, 16)
VT2(long long, longlong, 16) VT2(unsigned long long, ulonglong, 16)
struct uint3 { unsigned x, y, z; };
struct int3 { int x, y, z; };
struct float3 { float x, y, z; };
VT2(float, float, 8) VT4(float, float, 16) VT2(double, double, 16)
#undef VT2
#undef VT4
struct dim3 {
  unsigned x, y, z;
  constexpr __attribute__((host, device)) dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
  __attribute__((host, device)) dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
#define MAKE2(T, N) static __inline__ __attribute__((host, device)) N##2 make_##N##2(T x, T y) { return {x, y}; }
#define MAKE4(T, N) static __inline__ __attribute__((host, device)) N##4 make_##N##4(T x, T y, T z, T w) { return {x, y, z, w}; }
MAKE2(int, int) MAKE4(int, int) MAKE2(unsigned, uint) MAKE4(unsigned, uint) MAKE2(float, float) MAKE4(float, float)
MAKE2(unsigned short, ushort) MAKE4(unsigned short, ushort)
#undef MAKE2
#undef MAKE4
