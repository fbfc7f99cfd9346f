#!/usr/bin/env bash
# Round P: the aligned INT4 streaming kernel against the general one (decode sizes), and the Hopper dequantizing GEMMs
# (group-wise INT4 and BCQ): registers, correctness on every M (the default paths and the Hopper ones), the kernel
# suites with the Hopper paths at every M, Llama-3-8B end to end with them on (the default) and off, then OPT-175B in
# 3-bit BCQ as time allows.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundP.log) 2>&1
left() { echo $((${ROUND_SECONDS:-590} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh
kernel_tests 150 default sm90
suite zq-aligned 60 "" --suite zeroquant --m 1,8,16
suite zq-general 60 "INFERENCE_GROUPWISE_A16_ALIGNED=0" --suite zeroquant --m 1,8,16
for rg in 2 4; do suite zq-rg$rg 60 "INFERENCE_GROUPWISE_A16_ROW_GROUPS=$rg" --suite zeroquant --m 1,16,64; done
suite zq-sm90 100 "$SM90" --suite zeroquant --m 1,16,64,1024
suite lut-sm90 100 "$SM90" --suite lutgemm --shapes 6144x4096,4096x4096,28672x4096,4096x14336 --m 1,16,64,1024
python3 - <<'PY'
import json
def zq(f, tag):
  try: d=json.load(open(f))
  except Exception as e: print(f, e); return
  print(tag, 'geo', {k: round(v,2) for k,v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'bw', {k: round(v,2) for k,v in d['geomean_w4a16_fraction_of_copy_bandwidth'].items()})
  for r in d['results']: print(r['m'],r['n'],r['k'],'cublas %.1f w4 %.1f sp %.2f fr %.2f deq+cublas %.1f'%(r['cublas_bf16_us'],r['w4a16_us'],r['w4a16_speedup'],r['w4a16_fraction_of_copy_bandwidth'],r.get('w4a16_dequant_gemm_us',0)))
zq('/tmp/res/zq-aligned.json', 'zq aligned')
zq('/tmp/res/zq-general.json', 'zq general')
zq('/tmp/res/zq-rg2.json', 'zq aligned, 2 row groups')
zq('/tmp/res/zq-rg4.json', 'zq aligned, 4 row groups')
zq('/tmp/res/zq-sm90.json', 'zq wgmma')
try:
  d=json.load(open('/tmp/res/lut-sm90.json'))
  for q in ('q3','q4'): print(q, 'lut geo', {k: round(v,2) for k,v in d['geomean_%s_lut_speedup_vs_cublas_bf16'%q].items()})
  for r in d['results']: print(r['m'],r['n'],r['k'],'cublas %.1f q3 %.1f q4 %.1f deq %.1f tc %.1f'%(r['cublas_bf16_us'],r['q3_lut_us'],r['q4_lut_us'],r['q3_dequant_gemm_us'],r.get('q3_tensor_core_kernel_us',0)), r['q3_lut_kernel'])
except Exception as e: print('lut', e)
PY
tar -C /tmp/res -cf $OUT/results-p.tar .
e2e bf16 ""
e2e zq-w4a16 "" --quantization zeroquant
e2e zq-w4a16-no-sm90 "INFERENCE_GROUPWISE_SM90=0" --quantization zeroquant
e2e lut-q3 "" --quantization lutgemm --weight-bits 3 --group-size 128
e2e lut-q3-no-sm90 "INFERENCE_LUTGEMM_SM90=0" --quantization lutgemm --weight-bits 3 --group-size 128
tar -C /tmp/res -cf $OUT/results-p.tar .
opt175b results-p.tar lut dequant
