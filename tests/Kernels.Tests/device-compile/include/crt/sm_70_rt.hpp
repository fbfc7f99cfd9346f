// Empty: CUDA's sm_70 runtime header, which clang's __clang_cuda_intrinsics.h includes; nothing from it is used.
