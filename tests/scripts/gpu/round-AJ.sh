#!/usr/bin/env bash
# Round AJ: build; the whole GPU suite with the default settings (the decode attention kernel rotating q and k, writing
# the cache and merging its splits in a cluster); the fused-input tests with INFERENCE_GROUPWISE_FUSED_INPUT=1; then
# Llama-3-8B decode end to end (dummy weights, 128 + 128 tokens) at batch 1, three rounds alternating W4A16 (default),
# W4A16 with the fused inputs, W4A16 and bf16 with the attention fusions off ("old": the rotary kernel and the combine
# kernel), and bf16 (default); last, 64 concurrent for W4A16 and bf16, default and old.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAJ.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
OLD="INFERENCE_DECODE_ROPE_IN_ATTENTION=0 INFERENCE_PAGED_CLUSTER_COMBINE=0"
tests() {  # tests NAME LIMIT "ENV" FILTERS...
  local name=$1 limit=$2 settings=$3
  shift 3
  env $settings timeout $limit dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll "$@" > $OUT/$name.log 2>&1; echo "$name rc=$? at ${SECONDS}s"
  grep -E '^failed |total:|succeeded:|failed:|skipped:' $OUT/$name.log | cut -c1-200 | head -20
}
tests gpu-suite 200 ""
tests fused-input-tests 60 "INFERENCE_GROUPWISE_FUSED_INPUT=1" --filter-method '*SiluInputIsBitEqualToSiluMulThenGemm' \
  --filter-method '*NormInputMatchesNormThenGemm' --filter-method '*DecodeStepLogitsMatchTheFullForward'
for round in a b c; do
  bench_run w4-$round "" --input-len 128 --output-len 128 --concurrency 1,1 --quantization zeroquant
  bench_run w4-fused-$round "INFERENCE_GROUPWISE_FUSED_INPUT=1" --input-len 128 --output-len 128 --concurrency 1,1 --quantization zeroquant
  bench_run w4-old-$round "$OLD" --input-len 128 --output-len 128 --concurrency 1,1 --quantization zeroquant
  bench_run bf16-$round "" --input-len 128 --output-len 128 --concurrency 1,1
  bench_run bf16-old-$round "$OLD" --input-len 128 --output-len 128 --concurrency 1,1
done
bench_run w4-64 "" --input-len 128 --output-len 128 --concurrency 64 --quantization zeroquant
bench_run bf16-64 "" --input-len 128 --output-len 128 --concurrency 64
bench_run w4-old-64 "$OLD" --input-len 128 --output-len 128 --concurrency 64 --quantization zeroquant
bench_run bf16-old-64 "$OLD" --input-len 128 --output-len 128 --concurrency 64
tar -C /tmp/res -cf $OUT/results-aj.tar .
