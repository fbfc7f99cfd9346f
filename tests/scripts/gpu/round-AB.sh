#!/usr/bin/env bash
# Round AB, with the streaming LUT-GEMM kernel in the automatic choice at 2-64 rows and two row tiles per warp in the
# aligned W4A16 kernel on wide layers. Part 1 (any Hopper card): the group-wise and LUT-GEMM kernel tests; the lutgemm
# suite at 1, 2, 4, 16, 64 and 1024 tokens (streaming beside table at 1, table beside streaming at 2-16); the zeroquant
# suite at 1, 16, 64 and 1024; Llama-3-8B end to end in bf16, W4A16 and 3-bit LUT-GEMM (128 + 128), and where a W4A16
# decode step's GPU time goes (profile-decode.sh) while time is left. Part 2 (an H200:
# OPT-175B in 3 bits does not fit 80 GB with its KV cache): OPT-175B with the LUT-GEMM kernels and with
# dequantize-then-GEMM at batch 1 and 16 (the lutgemm suite at 1 and 16 tokens between the two), then the zeroquant
# suite while time is left.
# `auto` runs part 2 on an H200, else part 1. Part 3: the group-wise and LUT-GEMM kernel tests, and the zeroquant suite at
# 1-32 tokens with the row tiles per warp chosen by the grid's rounds (the default), one and four.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAB$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
source tests/scripts/gpu/profile-decode.sh
echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
lut_summary() {
  python3 -c "
import json; d = json.load(open('/tmp/res/$1.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
for q in (3, 4): print('q%d lut' % q, {k: round(v, 3) for k, v in d['geomean_q%d_lut_speedup_vs_cublas_bf16' % q].items()}, 'dequant', {k: round(v, 2) for k, v in d['geomean_q%d_lut_speedup_vs_dequant_gemm' % q].items()}, 'bw', {k: round(v, 3) for k, v in d['geomean_q%d_lut_fraction_of_copy_bandwidth' % q].items()})
print('m/nxk: cublas/lut/stream-or-table')
print(' '.join('%d/%dx%d:%.1f/%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['q3_lut_us'], r.get('q3_stream_kernel_us', r.get('q3_table_kernel_us', 0))) for r in d['results'] if r['m'] <= 16))"
}
zq_summary() {
  python3 -c "
import json; d = json.load(open('/tmp/res/$1.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
for key in ('w4a16_speedup_vs_cublas_bf16', 'w4a16_fraction_of_copy_bandwidth', 'w8a16_speedup_vs_cublas_bf16', 'w4a8_speedup_vs_cublas_bf16'):
  print(key, {k: round(v, 2) for k, v in d['geomean_' + key].items()})"
}
part=$1
if [ "$part" = auto ]; then  # OPT-175B where it fits (an H200), else part 1
  part=1; nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && part=2
  echo "part $part"
fi
if [ "$part" = 1 ]; then
  kernel_tests 100 default
  suite lut 150 "" --suite lutgemm --m 1,2,4,16,64,1024 && cp /tmp/res/lut.json $OUT/lutgemm-kernels.json && lut_summary lut
  suite zq 150 "" --suite zeroquant --m 1,16,64,1024 && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json && zq_summary zq
  e2e bf16 ""
  e2e w4a16 "" --quantization zeroquant
  e2e lut3 "" --quantization lutgemm --weight-bits 3 --group-size 128
  tar -C /tmp/res -cf $OUT/results-ab1.tar .
  [ $(left) -gt 130 ] && profile_decode w4a16 --quantization zeroquant
elif [ "$part" = 3 ]; then  # row tiles per warp chosen by the grid's rounds, against one and four everywhere
  kernel_tests 80 default
  for rt in "" 1 4; do
    suite zq-rt$rt 60 "INFERENCE_GROUPWISE_A16_ROW_TILES=$rt" --suite zeroquant --m 1,8,16,32 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/zq-rt$rt.json'))
print('row tiles [$rt]', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%dx%d:%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
  done
  tar -C /tmp/res -cf $OUT/results-ab3.tar .
else
  opt175b results-ab2.tar lut
  [ $(left) -gt 70 ] && suite lut 60 "" --suite lutgemm --m 1,16 && cp /tmp/res/lut.json $OUT/lutgemm-kernels.json && lut_summary lut
  opt175b results-ab2.tar dequant
  [ $(left) -gt 100 ] && suite zq 90 "" --suite zeroquant --m 1,16,64,1024 && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json && zq_summary zq
  tar -C /tmp/res -cf $OUT/results-ab2.tar .
fi
