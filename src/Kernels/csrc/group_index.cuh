// The quantization group of column k for a group size G, without a division where G is a power of two: a division by
// a runtime value is about a dozen instructions, and the kernels ask on their hot paths.
#pragma once

// log2 G where G is a power of two, else −1.
__device__ __forceinline__ int group_shift(int group) { return (group & (group - 1)) == 0 ? __ffs(group) - 1 : -1; }
// k / G, with shift = group_shift(G).
__device__ __forceinline__ int group_of(int k, int group, int shift) { return shift >= 0 ? k >> shift : k / group; }
