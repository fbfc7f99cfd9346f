#!/usr/bin/env bash
# Round X: loads ahead that stay in flight. The aligned W4A16 kernel keeps a stage's scales and zero points as loaded
# until the stage is computed, and the one-token LUT-GEMM kernel its float16 α and offsets; against the previous
# commit's kernels (.round/to-base.patch, made before the call with `git diff -R HEAD -- src/Kernels/csrc`; rebuilt
# incrementally) in the same lease: the zeroquant suite at 1 and 16
# tokens and the lutgemm suite at one token; Nsight Compute's stall reasons for the W4A16 kernel at one token; the
# group-wise and LUT-GEMM kernel tests.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundX.log) 2>&1
left() { echo $((${ROUND_SECONDS:-330} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
both() {  # both NAME: the two suites into /tmp/res/{zq,lut}-NAME.json, and their summaries
  suite zq-$1 45 "" --suite zeroquant --m 1,16 > /dev/null
  suite lut-$1 45 "" --suite lutgemm --m 1 > /dev/null
  python3 -c "
import json; d = json.load(open('/tmp/res/zq-$1.json'))
print('$1 w4a16', {k: round(v, 2) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%d:%.1f' % (r['m'], r['n'], r['w4a16_us']) for r in d['results']))
d = json.load(open('/tmp/res/lut-$1.json'))
print('$1 lut q3', round(d['geomean_q3_lut_speedup_vs_cublas_bf16']['1'], 2), 'q4', round(d['geomean_q4_lut_speedup_vs_cublas_bf16']['1'], 2), ' '.join('%d:%.1f' % (r['n'], r['q3_lut_us']) for r in d['results']))"
}
both now
STALLS='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio'
timeout 40 ncu --kernel-name regex:groupwise_a16_aligned --launch-count 1 --metrics "$STALLS" --section SpeedOfLight \
  dotnet $S bench-kernels --iters 2 --suite zeroquant --m 1 --shapes 28672x4096 > $OUT/ncu-w4-m1.log 2>&1
grep -E 'stalled_' $OUT/ncu-w4-m1.log | awk '$NF >= 0.1 {sub("smsp__average_warps_issue_stalled_", "", $1); sub("_per_issue_active.ratio", "", $1); print $1, $NF}' | sort -k2 -nr | head -6 | paste -sd' '
grep -E 'Duration|DRAM Throughput' $OUT/ncu-w4-m1.log | head -2
tar -C /tmp/res -cf $OUT/results-x.tar .
git apply .round/to-base.patch && cmake --build build/kernels > /tmp/build-base.log 2>&1 && both base
git apply -R .round/to-base.patch && cmake --build build/kernels > /dev/null 2>&1; echo "restored at ${SECONDS}s"
tar -C /tmp/res -cf $OUT/results-x.tar .
t=$(( $(left) - 5 )); [ $t -gt 30 ] && { timeout $t dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' --filter-class '*LutGemmKernelTests' > $OUT/kernel-tests.log 2>&1; echo "tests rc=$? at ${SECONDS}s"; grep -E 'failed |total:|failed:' $OUT/kernel-tests.log | head; }
