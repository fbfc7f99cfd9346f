#!/usr/bin/env bash
# Round AP: build; the group-wise kernel, CUDA ZeroQuant and argmax tests; then the arguments' VARIANT-ROUND runs of
# Llama-3-8B decode (dummy weights, 128 + 128 tokens, one request): w4 (W4A16 as it is), w4-e1 (1 of the group-wise
# kernel's ring stages copied before its wait instead of 3), w4-ta and bf16-ta (libtorch's argmax), w4-s8, w4-s4, w4-s2
# (the paged decode kernel's cluster of splits capped at 8, 4, 2), bf16; w4-c64 and bf16-c64 with 64 concurrent
# requests; suite-ROUND: the zeroquant kernel suite at 1, 16, 64 and 1024 tokens. Without arguments, two rounds of w4,
# w4-e1, w4-ta, bf16 and bf16-ta in opposite orders. Then, while time is left, a CUPTI profile (profile-decode.sh) of
# W4A16. ROUND_TEST_CLASSES and ROUND_TEST_SECONDS narrow the tests.
set -o pipefail
cd "$(dirname "$0")/../../.."
source tests/scripts/gpu/round-start.sh roundAP
gpu_tests ${ROUND_TEST_SECONDS:-150} tests "" ${ROUND_TEST_CLASSES:-GroupwiseKernelTests CudaZeroQuantTests ArgmaxKernelTests}
declare -A settings=([w4]="" [w4-e1]="INFERENCE_GROUPWISE_A16_EARLY_STAGES=1" [w4-ta]="INFERENCE_NATIVE_ARGMAX=0"
                     [w4-s8]="INFERENCE_PAGED_CLUSTER_SPLITS=8" [w4-s4]="INFERENCE_PAGED_CLUSTER_SPLITS=4"
                     [w4-s2]="INFERENCE_PAGED_CLUSTER_SPLITS=2" [bf16]="" [bf16-ta]="INFERENCE_NATIVE_ARGMAX=0" [w4-c64]="" [bf16-c64]="")
bench() {  # bench VARIANT ROUND (VARIANT ending in c64: 64 concurrent requests instead of one)
  local q="" c=1
  [[ $1 == w4* ]] && q="--quantization zeroquant"
  [[ $1 == *c64 ]] && c=64
  bench_run $1-$2 "${settings[$1]}" --input-len 128 --output-len 128 --concurrency $c $q
}
runs=("$@"); [ ${#runs[@]} = 0 ] && runs=(w4-a w4-e1-a w4-ta-a bf16-a bf16-ta-a bf16-ta-b bf16-b w4-ta-b w4-e1-b w4-b)
kernel_suite() {  # the zeroquant kernel suite at 1, 16, 64 and 1024 tokens (Llama-3-8B's shapes against cuBLAS bf16)
  suite zq-$1 150 "" --suite zeroquant --m 1,16,64,1024
  python3 -c "
import json; d = json.load(open('/tmp/res/zq-$1.json'))
print('zq-$1', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'bw', {k: round(v, 3) for k, v in d['geomean_w4a16_fraction_of_copy_bandwidth'].items()})"
}
for r in "${runs[@]}"; do
  if [[ $r == suite-* ]]; then kernel_suite ${r##*-}; else bench ${r%-*} ${r##*-}; fi
done
[ $(left) -gt 60 ] && (OUT=/tmp/res/profiles; mkdir -p $OUT; profile_decode w4 --quantization zeroquant) |
  grep -E "tpot|groupwise|paged_decode|rms_norm|argmax" | head -20
tar -C /tmp/res -cf $OUT/results-ap.tar .
