#!/usr/bin/env bash
# Round U: why the streaming kernels stall. Nsight Compute's stall reasons per issued instruction for the aligned
# W4A16 kernel (1 and 16 tokens, 28672 × 4096) and the one-token LUT-GEMM kernel (q3, 12288 × 49152); then the
# zeroquant suite at 1 and 16 tokens with each patch in tests/scripts/gpu/variants/ applied in turn (the library rebuilt
# incrementally), against the unpatched kernel in the same lease. The patches are experiments written for the call and
# not kept (round U timed split-chain, two MMA accumulators per piece, and three-blocks, 3 blocks per SM with 3 stages).
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundU.log) 2>&1
left() { echo $((${ROUND_SECONDS:-420} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
STALLS='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio'
profile() {  # profile NAME KERNEL_REGEX BENCH_ARGS...
  local name=$1 kernel=$2
  shift 2
  timeout 60 ncu --kernel-name regex:$kernel --launch-count 1 --metrics "$STALLS" --section SpeedOfLight --section SourceCounters \
    dotnet $S bench-kernels --iters 2 "$@" > $OUT/ncu-$name.log 2>&1; echo "=== ncu $name rc=$? at ${SECONDS}s"
  grep -E 'stalled_[a-z_]+_per_issue_active.ratio +[0-9.]*[1-9]' $OUT/ncu-$name.log | awk '$NF >= 0.1' | sed -E 's/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//' | sort -k3 -nr | head -10
  grep -E 'Duration|DRAM Throughput|Compute \(SM\)' $OUT/ncu-$name.log | head -3
}
profile w4-m1 groupwise_a16_aligned --suite zeroquant --m 1 --shapes 28672x4096
profile w4-m16 groupwise_a16_aligned --suite zeroquant --m 16 --shapes 28672x4096
profile lut-m1 lut_gemm_m1 --suite lutgemm --m 1 --shapes 12288x49152
zq() {
  suite zq-$1 45 "" --suite zeroquant --m 1,16 > /dev/null
  python3 -c "
import json; d = json.load(open('/tmp/res/zq-$1.json'))
print('$1', 'geo', {k: round(v, 2) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%d:%.1f' % (r['m'], r['n'], r['w4a16_us']) for r in d['results']))"
}
zq base
for p in tests/scripts/gpu/variants/*.patch; do
  v=$(basename $p .patch)
  [ $(left) -lt 90 ] && { echo "skipping $v"; continue; }
  git apply $p && cmake --build build/kernels > /tmp/build-$v.log 2>&1 || { echo "$v BUILD FAILED"; grep -A5 error /tmp/build-$v.log | head; git apply -R $p; continue; }
  grep -A4 "Compiling entry function '.*groupwise_a16_aligned_kernel" /tmp/build-$v.log | grep -E "registers|spill" | head -2 | cut -c1-150
  zq $v
  git apply -R $p
done
tar -C /tmp/res -cf $OUT/results-u.tar .
