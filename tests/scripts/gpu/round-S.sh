#!/usr/bin/env bash
# Round S: the one-token LUT-GEMM kernel with and without its loads one slab ahead: registers, the LUT-GEMM kernel
# tests, the lutgemm suite, Llama-3-8B in 3-bit BCQ end to end and OPT-175B in 3-bit BCQ at batch 1 and 16.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundS.log) 2>&1
source tests/scripts/gpu/round-common.sh > /dev/null
grep -A4 "Compiling entry function '.*lut_gemm_m1_kernel" /tmp/build.log | grep -E "Compiling|registers|spill" | sed -E "s/.*lut_gemm_m1_kernelI([^E]*)E.*/\1/" | paste - - - | cut -c1-200 | head -16
timeout 120 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*LutGemmKernelTests' > $OUT/kernel-tests-lut.log 2>&1; echo "lut tests rc=$? at ${SECONDS}s"
grep -E '\[FAIL\]|total:|failed:' $OUT/kernel-tests-lut.log | head
suite lut 220 "" --suite lutgemm
python3 - <<'PY'
import json
d = json.load(open('/tmp/res/lut.json')); print('copy', round(d['device_copy_tb_per_s'], 2))
for q in ('q3', 'q4'):
  for key in ('lut_speedup_vs_cublas_bf16', 'lut_speedup_vs_dequant_gemm', 'lut_fraction_of_copy_bandwidth'):
    print(q, key, {k: round(v, 2) for k, v in d['geomean_%s_%s' % (q, key)].items()})
for r in d['results']:
  if r['m'] == 1: print(r['m'], r['n'], r['k'], 'cublas %.1f q3 %.1f q4 %.1f' % (r['cublas_bf16_us'], r['q3_lut_us'], r['q4_lut_us']))
PY
tar -C /tmp/res -cf $OUT/results-s.tar .
B="bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init --input-len 128 --output-len 128 --concurrency 1,1,64"
timeout 65 dotnet $S $B --quantization lutgemm --weight-bits 3 --group-size 128 --output-json /tmp/res/e2e-lut-q3.json 2>&1 | grep -E 'error|weights:' | head -3
python3 -c "import json;[print(r['concurrency'],round(r['output_tokens_per_s'],1),round(r['mean_step_ms'],3)) for r in json.load(open('/tmp/res/e2e-lut-q3.json'))['runs']]"
B="bench --device cuda --model src/Assets/configs/opt-175b --load-format dummy --skip-tokenizer-init --quantization lutgemm --weight-bits 3 --group-size 128 --concurrency 1,16 --input-len 128 --output-len 32"
timeout 90 dotnet $S $B --output-json /tmp/res/opt175b-lut.json 2>&1 | grep -vE '^\s*$' | grep -E 'error|weights:|KV cache|^ *[0-9]' | head -8
tar -C /tmp/res -cf $OUT/results-s.tar .
