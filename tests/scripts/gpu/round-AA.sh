#!/usr/bin/env bash
# Round AA, on an H200, in three calls on one machine (the later ones find the first's build). Part 1: the lutgemm
# suite at one token, then OPT-175B in 3-bit BCQ with the LUT-GEMM kernels and with dequantize-then-GEMM. Part 2: the
# group-wise and LUT-GEMM kernel tests with the opt-in paths on (INFERENCE_GROUPWISE_A16_ROW_TILES=2,
# INFERENCE_LUTGEMM_STREAM=1); the zeroquant suite at 8 to 32 tokens with two, one and four row tiles per warp; the
# lutgemm suite at 8, 16 and 64 tokens (the streaming kernel, beside the table kernel at 8 and the Hopper tensor-core
# kernel above). Part 3: the zeroquant suite at 1, 16, 64 and
# 1024 tokens; Llama-3-8B end to end in bf16, W4A16 and 3-bit LUT-GEMM (128 + 128); where a decode step's GPU time
# goes in bf16 and W4A16 (profile-decode.sh, Nsight Systems).
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAA$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
source tests/scripts/gpu/profile-decode.sh
echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
if [ "$1" = 1 ]; then
  suite lut 60 "" --suite lutgemm --m 1 && cp /tmp/res/lut.json $OUT/lutgemm-kernels-m1.json
  python3 -c "
import json; d = json.load(open('/tmp/res/lut.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
print({k: round(v['1'], 3) for k, v in d.items() if k.startswith('geomean')})
print(' '.join('%dx%d:%.1f/%.1f' % (r['n'], r['k'], r['q3_lut_us'], r['q4_lut_us']) for r in d['results']))"
  opt175b results-aa1.tar lut dequant
elif [ "$1" = 2 ]; then
  registers groupwise_a16_aligned_kernel 28  # every instance (T, MT, Zeros, XShared, RB), where this call built them
  registers bcq_stream_kernel 48
  export INFERENCE_LUTGEMM_STREAM=1  # the streaming kernel in the automatic choice (9-64 tokens)
  INFERENCE_GROUPWISE_A16_ROW_TILES=2 timeout 100 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' \
    --filter-class '*LutGemmKernelTests' > $OUT/kernel-tests.log 2>&1; echo "tests rc=$? at ${SECONDS}s"
  grep -E '\[FAIL\]|total:|succeeded:|failed:' $OUT/kernel-tests.log | head -20
  rows() {  # rows N: the zeroquant suite at 8 to 32 tokens with INFERENCE_GROUPWISE_A16_ROW_TILES=N
    suite zq-rt$1 75 "INFERENCE_GROUPWISE_A16_ROW_TILES=$1" --suite zeroquant --m 8,16,32 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/zq-rt$1.json'))
print('row tiles $1 w4a16', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%d:%.1f' % (r['m'], r['n'], r['w4a16_us']) for r in d['results']))"
  }
  suite lut 120 "" --suite lutgemm --m 8,16,64 && cp /tmp/res/lut.json $OUT/lutgemm-kernels-stream.json  # 9-64 tokens: the streaming kernel
  python3 -c "
import json; d = json.load(open('/tmp/res/lut.json'))
for q in (3, 4): print('q%d lut' % q, {k: round(v, 3) for k, v in d['geomean_q%d_lut_speedup_vs_cublas_bf16' % q].items()}, 'bw', {k: round(v, 3) for k, v in d['geomean_q%d_lut_fraction_of_copy_bandwidth' % q].items()})
print('m/n x k: cublas/lut/other (8: stream; 16, 64: Hopper tensor cores)')
print(' '.join('%d/%dx%d:%.1f/%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['q3_lut_us'], r.get('q3_stream_kernel_us', r.get('q3_tensor_core_kernel_us', 0))) for r in d['results']))"
  [ $(left) -gt 60 ] && rows 2
  [ $(left) -gt 60 ] && rows 1
  [ $(left) -gt 60 ] && rows 4
  tar -C /tmp/res -cf $OUT/results-aa2.tar .
else
  suite zq 150 "" --suite zeroquant --m 1,16,64,1024 && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json
  python3 -c "
import json; d = json.load(open('/tmp/res/zq.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
for key in ('w4a16_speedup_vs_cublas_bf16', 'w4a16_fraction_of_copy_bandwidth', 'w8a16_speedup_vs_cublas_bf16', 'w4a8_speedup_vs_cublas_bf16'):
  print(key, {k: round(v, 2) for k, v in d['geomean_' + key].items()})"
  e2e bf16 ""
  e2e w4a16 "" --quantization zeroquant
  e2e lut3 "" --quantization lutgemm --weight-bits 3 --group-size 128
  tar -C /tmp/res -cf $OUT/results-aa3.tar .
  profile_decode bf16
  profile_decode w4a16 --quantization zeroquant
  tar -C /tmp/res -cf $OUT/results-aa3.tar .
fi
