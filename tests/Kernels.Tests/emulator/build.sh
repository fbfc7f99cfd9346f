#!/usr/bin/env bash
# Builds the kernel emulator's check program (kernel_checks.cpp and the check_*.cpp it runs): the CUDA kernel files of
# src/Kernels/csrc compiled as C++ for the host against include/ (the emulator and CUDA's headers) and overrides/ (the
# headers with inline PTX: mma.cuh, ptx_bits.cuh, ptx_sm90.cuh, wgmma_f16.cuh), with AddressSanitizer and
# UndefinedBehaviorSanitizer. Usage: build.sh [OUT_DIR] (default build/kernel-emulation). Prints the program's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/build/kernel-emulation}
src=$out/src
rm -rf "$src"
mkdir -p "$src"
cp "$root"/src/Kernels/csrc/*.cu "$root"/src/Kernels/csrc/*.cuh "$root"/src/Kernels/csrc/*.h "$src"/
cp "$here"/overrides/*.cuh "$src"/
# C++ has no kernel<<<config>>>(args) syntax: the same launch as simt::launch(kernel, {config}, args). Dynamic shared
# memory (extern __shared__ T name[]) becomes a pointer to the block's arena.
perl -0pi -e 's/(\w+(?:<[^<>;]*>)?)<<<(.*?)>>>\(/simt::launch($1, simt::Config{$2}, /gs;
              s/extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+)\s+(\w+)\[\];/$1* const $2 = simt::dynamic_shared<$1>();/g' "$src"/*.cu "$src"/*.cuh
kernels=(groupwise_gemm groupwise_a16_aligned lut_gemm skinny_gemm int8_gemm paged_attention quantize fused_ops groupwise_gemm_sm90 lut_gemm_sm90 int8_gemm_sm90 skinny_gemm_sm90)
flags=(-std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
       -Wall -Wno-unknown-pragmas -Wno-unused-function -Wno-unused-variable -Wno-psabi -I"$here/include" -include cuda_runtime.h)
pids=()
for k in "${kernels[@]}"; do
  g++ "${flags[@]}" -x c++ -c "$src/$k.cu" -o "$out/$k.o" & pids+=($!)
done
checks=(kernel_checks check_groupwise check_lutgemm check_dense check_attention check_rows check_selftest)
for c in "${checks[@]}"; do
  g++ "${flags[@]}" -I"$src" -c "$here/$c.cpp" -o "$out/$c.o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
objects=()
for o in "${kernels[@]}" "${checks[@]}"; do objects+=("$out/$o.o"); done
g++ -fsanitize=address,undefined "${objects[@]}" -o "$out/kernel-checks"
echo "$out/kernel-checks"
