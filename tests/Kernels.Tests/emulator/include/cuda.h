// The driver API's tensor-map types and cuTensorMapEncodeTiled: the emulated map keeps what TMA copies need
// (overrides/ptx_sm90.cuh reads it back).
#pragma once
#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"  // the types, in ../../cuda-types/cuda_types.h

namespace simt {
struct TensorMap {  // what an emulated CUtensorMap holds
  const uint8_t* base;
  int rank, elem;          // dimensions, bytes per element
  uint64_t dims[5];        // elements, innermost first
  uint64_t strides[5];     // bytes between consecutive indices of dimension d (strides[0] = elem)
  uint32_t box[5];         // elements per box, innermost first
  CUtensorMapSwizzle swizzle;
};
static_assert(sizeof(TensorMap) <= sizeof(CUtensorMap), "an emulated tensor map fits a CUtensorMap");
inline const TensorMap& tensor_map(const CUtensorMap* m) { return *reinterpret_cast<const TensorMap*>(m); }
}  // namespace simt

// The driver's checks that matter here: rank 1-5, 16-byte aligned base and strides, boxes of at most 256 elements,
// inner box bytes a multiple of 16 and, with a swizzle, at most the swizzle's span.
inline CUresult cuTensorMapEncodeTiled(CUtensorMap* map, CUtensorMapDataType type, cuuint32_t rank, void* base, const cuuint64_t* dims,
                                       const cuuint64_t* strides, const cuuint32_t* box, const cuuint32_t* element_strides,
                                       CUtensorMapInterleave, CUtensorMapSwizzle swizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill) {
  simt::TensorMap m{};
  m.base = static_cast<const uint8_t*>(base);
  m.rank = (int)rank;
  m.elem = type == CU_TENSOR_MAP_DATA_TYPE_UINT8 ? 1 : type == CU_TENSOR_MAP_DATA_TYPE_UINT16 ? 2 : 4;
  m.swizzle = swizzle;
  if (rank < 1 || rank > 5 || reinterpret_cast<uintptr_t>(base) % 16 != 0) return CUDA_ERROR_INVALID_VALUE;
  m.strides[0] = (uint64_t)m.elem;
  for (uint32_t d = 0; d < rank; d++) {
    m.dims[d] = dims[d];
    m.box[d] = box[d];
    if (box[d] < 1 || box[d] > 256 || element_strides[d] != 1) return CUDA_ERROR_INVALID_VALUE;
    if (d > 0) {
      m.strides[d] = strides[d - 1];
      if (strides[d - 1] % 16 != 0) return CUDA_ERROR_INVALID_VALUE;
    }
  }
  const uint32_t inner = box[0] * (uint32_t)m.elem;
  const uint32_t span = swizzle == CU_TENSOR_MAP_SWIZZLE_128B ? 128 : swizzle == CU_TENSOR_MAP_SWIZZLE_64B ? 64 : swizzle == CU_TENSOR_MAP_SWIZZLE_32B ? 32 : 0;
  if (inner % 16 != 0 || (span && inner > span)) return CUDA_ERROR_INVALID_VALUE;
  std::memset(map, 0, sizeof(*map));
  std::memcpy(map, &m, sizeof(m));
  return CUDA_SUCCESS;
}
