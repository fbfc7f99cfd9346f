#!/usr/bin/env bash
# Round AO: build; the group-wise kernel, argmax and CUDA ZeroQuant tests; a batch-1 Llama-3-8B decode step (16 + 256
# tokens) under CUPTI (profile-decode.sh): W4A16 as it is, with the paged decode kernel's cluster of splits capped at 8
# (INFERENCE_PAGED_CLUSTER_SPLITS), with 1 and 0 of the group-wise kernel's ring stages copied before its wait for the
# kernel before it instead of 3 (INFERENCE_GROUPWISE_A16_EARLY_STAGES), with the native argmax
# (INFERENCE_NATIVE_ARGMAX=1), and bf16 without and with it (the per-kernel tables go into the results' tar); then
# 128 + 128 tokens untraced, W4A16 and bf16 alternating twice.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAO.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
source tests/scripts/gpu/profile-decode.sh
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
gpu_tests 150 tests "" GroupwiseKernelTests CudaZeroQuantTests ArgmaxKernelTests
variant() {  # variant NAME "ENV" BENCH_FLAGS...: the profile's headline and its attention and norm rows
  local name=$1 settings=$2
  shift 2
  [ $(left) -lt 15 ] && { echo "skipping $name: $(left)s left"; return; }
  ([ -n "$settings" ] && export $settings; OUT=/tmp/res/profiles; mkdir -p $OUT; profile_decode $name "$@") | grep -E "tpot|paged_decode|combine|rms_norm_vec_kernel<__nv_bfloat16; 2; true|argmax"
}
variant w4 "" --quantization zeroquant
variant w4-s8 "INFERENCE_PAGED_CLUSTER_SPLITS=8" --quantization zeroquant
variant w4-early1 "INFERENCE_GROUPWISE_A16_EARLY_STAGES=1" --quantization zeroquant
variant w4-early0 "INFERENCE_GROUPWISE_A16_EARLY_STAGES=0" --quantization zeroquant
variant w4-argmax "INFERENCE_NATIVE_ARGMAX=1" --quantization zeroquant
variant bf16 ""
variant bf16-argmax "INFERENCE_NATIVE_ARGMAX=1"
for round in a b; do
  bench_run w4-$round "" --input-len 128 --output-len 128 --concurrency 1 --quantization zeroquant
  bench_run bf16-$round "" --input-len 128 --output-len 128 --concurrency 1
done
tar -C /tmp/res -cf $OUT/results-ao.tar .
