#!/usr/bin/env bash
# Round Y: Hopper prefill tiles. ptxas's wgmma serialization warnings per instantiation, then the zeroquant suite at
# 1024 and 4096 tokens with the default choice (dequantize + cuBLAS) and with the Hopper kernel at every M for each
# prefill tile (INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=64|128|256), the group-wise and LUT-GEMM kernel tests with the
# Hopper paths on at 64- and 128-token prefill tiles, and, as time allows, the suites for the docs (zeroquant at 1, 16
# and 64 tokens, lutgemm at one token).
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundY.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh
grep -B1 -A1 -iE "serializ" /tmp/build.log | grep -oE "C75[0-9]+|dequant_gemm_sm90_kernelI[^E]*E[^ ]{0,60}" | sort | uniq -c | head -20
prefill() {  # prefill NAME "ENV": the zeroquant suite at 1024 and 4096 tokens, W4A16 per shape and geomean
  suite pf-$1 90 "$2" --suite zeroquant --m 1024,4096 > /dev/null
  python3 -c "
import json; d = json.load(open('/tmp/res/pf-$1.json'))
print('$1', {k: round(v, 2) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%d:%.0f/%.0f' % (r['m'], r['n'], r['w4a16_us'], r['cublas_bf16_us']) for r in d['results']))"
}
prefill base ""
for t in 128 64 256; do prefill t$t "$SM90 INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=$t"; done
tar -C /tmp/res -cf $OUT/results-y.tar .
for t in 128 64; do
  SM90="INFERENCE_GROUPWISE_SM90=1 INFERENCE_GROUPWISE_SM90_ALL_M=1 INFERENCE_LUTGEMM_SM90=1 INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=$t"
  [ $(left) -gt 100 ] && kernel_tests 60 sm90
  mv $OUT/kernel-tests-sm90.log $OUT/kernel-tests-t$t.log 2>/dev/null
done
[ $(left) -gt 200 ] && { suite zq 120 "" --suite zeroquant --m 1,16,64; cp /tmp/res/zq.json $OUT/zeroquant-kernels-small-m.json; }
t=$(( $(left) - 5 )); [ $t -gt 60 ] && { suite lut $t "" --suite lutgemm --m 1; cp /tmp/res/lut.json $OUT/lutgemm-kernels.json; }
tar -C /tmp/res -cf $OUT/results-y.tar .
