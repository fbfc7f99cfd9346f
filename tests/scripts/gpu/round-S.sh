#!/usr/bin/env bash
# Round S (short, most wanted first): registers of the one-token LUT-GEMM kernel and the staged group-wise A16 kernel;
# the lutgemm suite at M = 1; the zeroquant suite at M = 1 and 16 with the weights staged through shared memory and
# without; the LUT-GEMM kernel tests and the group-wise ones with the staged form; then OPT-175B in 3-bit BCQ at batch 1
# and 16 as time allows.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundS.log) 2>&1
left() { echo $((${ROUND_SECONDS:-330} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
registers lut_gemm_m1_kernel 6
registers groupwise_a16_staged_kernel 6
echo "built at ${SECONDS}s"
suite lut-m1 50 "" --suite lutgemm --m 1
suite zq-staged 40 "INFERENCE_GROUPWISE_A16_STAGES=4" --suite zeroquant --m 1,16
suite zq-regs 40 "" --suite zeroquant --m 1,16
tar -C /tmp/res -cf $OUT/results-s.tar .
python3 - <<'PY'
import json
d = json.load(open('/tmp/res/lut-m1.json')); print('copy', round(d['device_copy_tb_per_s'], 2))
for q in ('q3', 'q4'): print(q, {k: round(v['1'], 2) for k, v in d.items() if k.startswith('geomean_' + q)})
for r in d['results']: print(r['n'], r['k'], 'cublas %.1f q3 %.1f q4 %.1f' % (r['cublas_bf16_us'], r['q3_lut_us'], r['q4_lut_us']))
for f in ('zq-regs', 'zq-staged'):
  try: d = json.load(open('/tmp/res/%s.json' % f))
  except Exception as e: print(f, e); continue
  print(f, 'geo', {k: round(v, 2) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'bw', {k: round(v, 2) for k, v in d['geomean_w4a16_fraction_of_copy_bandwidth'].items()})
  for r in d['results']: print(r['m'], r['n'], r['k'], 'cublas %.1f w4 %.1f' % (r['cublas_bf16_us'], r['w4a16_us']))
PY
timeout 60 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*LutGemmKernelTests' > $OUT/kernel-tests-lut.log 2>&1; echo "lut tests rc=$? at ${SECONDS}s"
grep -E '\[FAIL\]|total:|failed:' $OUT/kernel-tests-lut.log | head
INFERENCE_GROUPWISE_A16_STAGES=4 timeout 50 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' > $OUT/kernel-tests-staged.log 2>&1; echo "staged tests rc=$? at ${SECONDS}s"
grep -E '\[FAIL\]|total:|failed:' $OUT/kernel-tests-staged.log | head
opt175b results-s.tar lut
