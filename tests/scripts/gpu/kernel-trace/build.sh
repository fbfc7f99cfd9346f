#!/usr/bin/env bash
# Builds ktrace.cpp into DIR/libktrace.so (default /tmp/ktrace) against the CUPTI of the CUDA toolkit or, failing
# that, of PyTorch's pip packages, and prints the library's path. Use:
#   CUDA_INJECTION64_PATH=$(bash build.sh) KTRACE_CSV=trace.csv <command>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-/tmp/ktrace}
mkdir -p "$dir"
header=$(ls ${CUDA_HOME:-/usr/local/cuda}/extras/CUPTI/include/cupti.h 2>/dev/null ||
  find / -path /proc -prune -o -name cupti.h -path '*include*' -print 2>/dev/null | head -1)
[ -z "$header" ] && { echo "ktrace: no cupti.h on this machine" >&2; exit 1; }
inc=$(dirname "$header")
lib=$(dirname "$(find "$inc/.." -name 'libcupti.so*' 2>/dev/null | head -1)")
record=$(grep -ohE 'CUpti_ActivityKernel[0-9]+' "$inc"/cupti_activity*.h | sort -V | tail -1)
g++ -std=c++17 -O2 -shared -fPIC -I"$inc" -I${CUDA_HOME:-/usr/local/cuda}/include -DKTRACE_RECORD="$record" "$here/ktrace.cpp" \
  -o "$dir/libktrace.so" -L"$lib" -lcupti -Wl,-rpath,"$lib" >&2
echo "$dir/libktrace.so"
