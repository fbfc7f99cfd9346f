#!/usr/bin/env bash
# Round AK: how many context splits a batch-1 decode step's attention should take when they merge in a thread-block
# cluster. Build; the paged attention tests (clusters of up to 16 splits, the default); then Llama-3-8B W4A16 at batch 1
# (dummy weights) alternating clusters of up to 8 splits (INFERENCE_PAGED_CLUSTER_SPLITS=8), of up to 16, and the
# combine kernel with up to 16 splits (INFERENCE_PAGED_CLUSTER_COMBINE=0), twice, at ~4K tokens of context (3968 + 64)
# and at 128 + 128; bench_run prints each run's decode time per token (tpot, the prefill left out) last.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAK.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
gpu_tests 60 attention-tests "" PagedAttentionKernelTests
for round in a b; do
  for len in "3968 64" "128 128"; do
    tag=${len%% *}
    bench_run c8-$tag-$round "INFERENCE_PAGED_CLUSTER_SPLITS=8" --quantization zeroquant --input-len ${len%% *} --output-len ${len##* } --concurrency 1,1
    bench_run c16-$tag-$round "" --quantization zeroquant --input-len ${len%% *} --output-len ${len##* } --concurrency 1,1
    bench_run old-$tag-$round "INFERENCE_PAGED_CLUSTER_COMBINE=0" --quantization zeroquant --input-len ${len%% *} --output-len ${len##* } --concurrency 1,1
  done
done
tar -C /tmp/res -cf $OUT/results-ak.tar .
