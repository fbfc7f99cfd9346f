#!/usr/bin/env bash
# Round W: the figures for the docs with the default kernel choices. The zeroquant suite at 1, 16, 64 and 1024 tokens
# on Llama-3-8B's shapes and the lutgemm suite at one token, both into $OUT as JSON; the group-wise and LUT-GEMM kernel
# tests.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundW.log) 2>&1
left() { echo $((${ROUND_SECONDS:-420} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
suite zq 170 "" --suite zeroquant --m 1,16,64,1024
cp /tmp/res/zq.json $OUT/zeroquant-kernels.json
python3 - <<'PY'
import json
d = json.load(open('/tmp/res/zq.json')); print(d.get('gpu'), 'copy', round(d['device_copy_tb_per_s'], 2))
for key in ('w4a16_speedup_vs_cublas_bf16', 'w4a16_fraction_of_copy_bandwidth', 'w8a16_speedup_vs_cublas_bf16', 'w4a8_speedup_vs_cublas_bf16'):
  print(key, {k: round(v, 2) for k, v in d.get('geomean_' + key, {}).items()})
PY
t=$(( $(left) - 30 )); [ $t -gt 40 ] && suite lut $t "" --suite lutgemm --m 1 && cp /tmp/res/lut.json $OUT/lutgemm-kernels.json
timeout 30 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' --filter-class '*LutGemmKernelTests' > $OUT/kernel-tests.log 2>&1; echo "tests rc=$? at ${SECONDS}s"
grep -E '\[FAIL\]|total:|failed:' $OUT/kernel-tests.log | head
