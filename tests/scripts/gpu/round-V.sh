#!/usr/bin/env bash
# Round V: the aligned W4A16 kernel with one token's activations permuted into shared memory once per block, its scale
# and zero-point loads paired, one barrier per tile and two MMA chains per piece, against the same kernel reading x from
# global memory (INFERENCE_GROUPWISE_A16_X_SHARED=0) and against the previous commit's kernel (.round/to-base.patch,
# made before the call with `git diff -R HEAD -- src/Kernels/csrc > .round/to-base.patch`; rebuilt incrementally), at 1
# and 16 tokens; the group-wise kernel tests; Nsight Compute's stall reasons at one token; Llama-3-8B end to end in
# W4A16 and bf16 as time allows.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundV.log) 2>&1
left() { echo $((${ROUND_SECONDS:-420} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
zq() {  # zq NAME "ENV"
  suite zq-$1 45 "$2" --suite zeroquant --m 1,16 > /dev/null
  python3 -c "
import json; d = json.load(open('/tmp/res/zq-$1.json'))
print('$1', 'geo', {k: round(v, 2) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'bw', {k: round(v, 2) for k, v in d['geomean_w4a16_fraction_of_copy_bandwidth'].items()}, ' '.join('%d/%d:%.1f' % (r['m'], r['n'], r['w4a16_us']) for r in d['results']))"
}
grep -A4 "Compiling entry function '.*groupwise_a16_aligned_kernel" /tmp/build.log | grep -E "registers|spill" | head -8 | cut -c1-150
zq now ""
zq x-global "INFERENCE_GROUPWISE_A16_X_SHARED=0"
timeout 40 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' > $OUT/kernel-tests.log 2>&1; echo "tests rc=$? at ${SECONDS}s"
grep -E '\[FAIL\]|total:|failed:' $OUT/kernel-tests.log | head
STALLS='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio'
timeout 60 ncu --kernel-name regex:groupwise_a16_aligned --launch-count 1 --metrics "$STALLS" --section SpeedOfLight --section Occupancy \
  dotnet $S bench-kernels --iters 2 --suite zeroquant --m 1 --shapes 28672x4096 > $OUT/ncu-w4-m1.log 2>&1; echo "ncu rc=$? at ${SECONDS}s"
grep -E 'stalled_' $OUT/ncu-w4-m1.log | awk '$NF >= 0.1 {sub("smsp__average_warps_issue_stalled_", "", $1); sub("_per_issue_active.ratio", "", $1); print $1, $NF}' | sort -k2 -nr | head -8 | paste -sd' '
grep -E 'Duration|DRAM Throughput|Achieved Occupancy' $OUT/ncu-w4-m1.log | head -3
git apply .round/to-base.patch && cmake --build build/kernels > /tmp/build-base.log 2>&1 && zq base ""
git apply -R .round/to-base.patch && cmake --build build/kernels > /dev/null 2>&1; echo "restored at ${SECONDS}s"
tar -C /tmp/res -cf $OUT/results-v.tar .
[ $(left) -gt 80 ] && e2e w4a16 "" --quantization zeroquant
[ $(left) -gt 80 ] && e2e bf16 ""
tar -C /tmp/res -cf $OUT/results-v.tar .
