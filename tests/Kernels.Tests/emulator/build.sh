#!/usr/bin/env bash
# Builds the kernel emulator's check program: the CUDA kernel files of src/Kernels/csrc compiled as C++ for the host
# against include/ (the emulator and CUDA's headers) and overrides/ (mma.cuh and ptx_bits.cuh, the inline-PTX
# headers), with AddressSanitizer and UndefinedBehaviorSanitizer. Usage: build.sh [OUT_DIR] (default build/kernel-emulation).
# Prints the path of the program.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/build/kernel-emulation}
src=$out/src
rm -rf "$src"
mkdir -p "$src"
cp "$root"/src/Kernels/csrc/*.cu "$root"/src/Kernels/csrc/*.cuh "$root"/src/Kernels/csrc/*.h "$src"/
cp "$here"/overrides/*.cuh "$src"/
# C++ has no kernel<<<config>>>(args) syntax: the same launch as simt::launch(kernel, {config}, args).
perl -0pi -e 's/(\w+(?:<[^<>;]*>)?)<<<(.*?)>>>\(/simt::launch($1, simt::Config{$2}, /gs' "$src"/*.cu
kernels=(groupwise_gemm groupwise_a16_aligned lut_gemm)
flags=(-std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
       -Wall -Wno-unknown-pragmas -Wno-unused-function -Wno-unused-variable -I"$here/include" -include cuda_runtime.h)
pids=()
for k in "${kernels[@]}"; do
  g++ "${flags[@]}" -x c++ -c "$src/$k.cu" -o "$out/$k.o" & pids+=($!)
done
g++ "${flags[@]}" -I"$src" -c "$here/kernel_checks.cpp" -o "$out/kernel_checks.o" & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
objects=()
for k in "${kernels[@]}"; do objects+=("$out/$k.o"); done
g++ -fsanitize=address,undefined "${objects[@]}" "$out/kernel_checks.o" -o "$out/kernel-checks"
echo "$out/kernel-checks"
