#!/usr/bin/env bash
# Round AI: build; with INFERENCE_GROUPWISE_FUSED_INPUT=1, INFERENCE_DECODE_ROPE_IN_ATTENTION=1 and
# INFERENCE_PAGED_CLUSTER_COMBINE=1, the group-wise kernel tests (the fused-input tests among them: silu(gate)·up and
# RMSNorm computed by the one-token kernel as it copies x), the paged attention tests (against the gather path, and the
# decode kernel that rotates and writes the cache bit for bit against rotary then decode) and CudaZeroQuantTests'
# decode-against-full-forward check; then Llama-3-8B batch-1 decode end to end (dummy weights, 128 + 128 tokens): W4A16
# with the three switches ("all"), with none, and bf16 with the two attention switches ("attn"), alternating, twice;
# then W4A16 with the attention switches alone and bf16 with none; 64 concurrent last.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAI.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
ATTN="INFERENCE_DECODE_ROPE_IN_ATTENTION=1 INFERENCE_PAGED_CLUSTER_COMBINE=1"
ALL="INFERENCE_GROUPWISE_FUSED_INPUT=1 $ATTN"
tests() {  # tests NAME FILTERS...: the GPU tests with both switches on
  local name=$1
  shift
  env $ALL timeout 60 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? at ${SECONDS}s"
  grep -E '\[FAIL\]|total:|succeeded:|failed:' $OUT/$name.log | head -20
  grep -A8 '\[FAIL\]' $OUT/$name.log | grep -E 'Assert|error|Error|Exception|differ' | head -12
}
tests kernel-tests --filter-class '*GroupwiseKernelTests' --filter-class '*PagedAttentionKernelTests'
tests decode-test --filter-method '*DecodeStepLogitsMatchTheFullForward'
for round in a b; do
  bench_run w4-all-$round "$ALL" --input-len 128 --output-len 128 --concurrency 1,1 --quantization zeroquant
  bench_run w4-none-$round "" --input-len 128 --output-len 128 --concurrency 1,1 --quantization zeroquant
  bench_run bf16-attn-$round "$ATTN" --input-len 128 --output-len 128 --concurrency 1,1
done
bench_run w4-attn-b "$ATTN" --input-len 128 --output-len 128 --concurrency 1,1 --quantization zeroquant
bench_run bf16-none-b "" --input-len 128 --output-len 128 --concurrency 1,1
bench_run w4-all-64 "$ALL" --input-len 128 --output-len 128 --concurrency 64 --quantization zeroquant
bench_run w4-none-64 "" --input-len 128 --output-len 128 --concurrency 64 --quantization zeroquant
tar -C /tmp/res -cf $OUT/results-ai.tar .
