#!/usr/bin/env bash
# Compiles the device side of every CUDA kernel file in src/Kernels/csrc for sm_90a with clang (its CUDA mode, no CUDA
# installation: include/ stands in for CUDA's headers) into PTX, so that a machine without nvcc still checks what the
# host-compiled emulator cannot: execution spaces (a __device__ function calling a host-only one), the inline PTX's
# operand constraints, device-only templates and code under __CUDA_ARCH__. ptxas is not run: the PTX text of
# inline asm is not checked. Usage: compile.sh OUT_DIR [FILE.cu ...] (default: every .cu file). Writes OUT_DIR/NAME.ptx;
# exits non-zero, with clang's messages, when any file fails or warns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:?usage: compile.sh OUT_DIR [FILE.cu ...]}
shift
files=("$@")
if (( ${#files[@]} == 0 )); then files=("$root"/src/Kernels/csrc/*.cu); fi
clang=${CLANG:-clang-19}
command -v "$clang" >/dev/null || { echo "$clang not found: tests/scripts/install-clang.sh installs it" >&2; exit 2; }
mkdir -p "$out"
# PTX ISA 8.3 (CUDA 12.3): what sm_90a's cluster and griddepcontrol instructions need; clang assumes less without a
# CUDA installation to read the version from. -O3 and fast math as src/Kernels/CMakeLists.txt builds them with nvcc.
flags=(-x cuda --cuda-device-only --cuda-gpu-arch=sm_90a -nocudainc -nocudalib -Xclang -target-feature -Xclang +ptx83
       -std=c++17 -O3 -ffast-math -Wall -Wno-unknown-pragmas -Werror -I"$here/include" -include cuda_runtime.h -S)
status=0
for f in "${files[@]}"; do
  name=$(basename "$f" .cu)
  if ! nice -n 10 "$clang" "${flags[@]}" "$f" -o "$out/$name.ptx"; then
    echo "device compile failed: $f" >&2
    status=1
  fi
done
exit $status
