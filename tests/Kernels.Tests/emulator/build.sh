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
cp "$here"/overrides/*.cuh "$here"/*.cpp "$here"/*.h "$src"/
# The kernels and the checks (whose self-test kernels declare shared memory too) are rewritten alike. C++ has no
# kernel<<<config>>>(args) syntax: the same launch as simt::launch(kernel, {config}, args). Dynamic shared
# memory (extern __shared__ T name[]) becomes a pointer to the start of the block's arena, a static __shared__ variable
# (T name[A][B] or T name) a reference to its place at the arena's end (simt::static_shared).
perl -0pi -e 's/(\w+(?:<[^<>;]*>)?)<<<(.*?)>>>\(/simt::launch($1, simt::Config{$2}, /gs;
              s/extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+)\s+(\w+)\[\];/$1* const $2 = simt::dynamic_shared<$1>();/g;
              s/__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+)\s+(\w+)((?:\[[^\]]*\])*)\s*;/"$1 " . ($3 ? "(&$2)$3" : "&$2") . " = simt::static_shared<$1$3>([] {});"/ge' "$src"/*.cu "$src"/*.cuh "$src"/*.cpp
kernels=(argmax groupwise_gemm groupwise_a16_aligned lut_gemm bcq_stream skinny_gemm int8_gemm paged_attention quantize fused_ops groupwise_gemm_sm90 lut_gemm_sm90 int8_gemm_sm90 skinny_gemm_sm90)
flags=(-std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
       -Wall -Wno-unknown-pragmas -Wno-unused-function -Wno-unused-variable -Wno-psabi -I"$here/include" -include cuda_runtime.h)
# At most one compile per core, at low priority: CI runs this beside the other test projects on two cores, and
# nineteen compilers at normal priority starve their servers' start-up.
max_jobs=$(nproc) running=0
compile() {  # compile SOURCE OBJECT [FLAGS...]
  if (( running >= max_jobs )); then wait -n; running=$((running - 1)); fi
  nice -n 10 g++ "${flags[@]}" "${@:3}" -c "$1" -o "$2" &
  running=$((running + 1))
}
for k in "${kernels[@]}"; do compile "$src/$k.cu" "$out/$k.o" -x c++; done
checks=(kernel_checks check_argmax check_groupwise check_lutgemm check_dense check_attention check_rows check_rotary check_selftest)
for c in "${checks[@]}"; do compile "$src/$c.cpp" "$out/$c.o"; done
for (( ; running > 0; running-- )); do wait -n; done
objects=()
for o in "${kernels[@]}" "${checks[@]}"; do objects+=("$out/$o.o"); done
g++ -fsanitize=address,undefined "${objects[@]}" -o "$out/kernel-checks"
echo "$out/kernel-checks"
