#!/usr/bin/env bash
# Round AK: how many context splits a batch-1 decode step's attention should take when they merge in a thread-block
# cluster. Build; the paged attention tests with clusters of up to 16 splits (INFERENCE_PAGED_CLUSTER_SPLITS=16); then
# Llama-3-8B W4A16 at batch 1 (dummy weights) alternating clusters of up to 8 splits (the default), of up to 16, and
# the combine kernel with up to 16 splits (INFERENCE_PAGED_CLUSTER_COMBINE=0), twice, at ~4K tokens of context
# (3968 + 64) and at 128 + 128; prints each run's decode time per token (tpot, the prefill left out).
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAK.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
INFERENCE_PAGED_CLUSTER_SPLITS=16 timeout 60 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*PagedAttentionKernelTests' > $OUT/attention-tests.log 2>&1
echo "attention tests rc=$? at ${SECONDS}s"; grep -E '^failed |total:|succeeded:|failed:' $OUT/attention-tests.log | cut -c1-200 | head -12
run() {  # run NAME "ENV" INPUT OUTPUT
  local name=$1 settings=$2
  [ $(left) -lt 30 ] && { echo "skipping $name: $(left)s left"; return; }
  env $settings timeout $(( $(left) - 5 < 60 ? $(left) - 5 : 60 )) dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init \
    --quantization zeroquant --input-len $3 --output-len $4 --concurrency 1,1 --output-json /tmp/res/e2e-$name.json > /tmp/e2e-$name.log 2>&1 || { echo "$name rc=$?"; grep -iE 'error|exception' /tmp/e2e-$name.log | head -3; }
  python3 -c "
import json; d = json.load(open('/tmp/res/e2e-$name.json'))
print('$name', [(round(r['tpot_ms']['mean'], 3), round(r['mean_step_ms'], 3)) for r in d.get('runs', [d])])" 2>&1 | tail -1
}
for round in a b; do
  for len in "3968 64" "128 128"; do
    tag=${len%% *}
    run c8-$tag-$round "" $len
    run c16-$tag-$round "INFERENCE_PAGED_CLUSTER_SPLITS=16" $len
    run old-$tag-$round "INFERENCE_PAGED_CLUSTER_COMBINE=0" $len
  done
done
tar -C /tmp/res -cf $OUT/results-ak.tar .
