#!/usr/bin/env bash
# Round AL: build; the whole GPU suite with the default settings; then Llama-3-8B end to end (dummy weights, 128 + 128
# tokens) at batch 1, W4A16 and bf16 alternating twice, and at 64 concurrent.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAL.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
timeout 150 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll > $OUT/gpu-suite.log 2>&1; echo "gpu suite rc=$? at ${SECONDS}s"
grep -E '^failed |total:|succeeded:|failed:|skipped:' $OUT/gpu-suite.log | cut -c1-200 | head -20
run() {  # run NAME CONCURRENCY FLAGS...
  local name=$1 conc=$2
  shift 2
  [ $(left) -lt 30 ] && { echo "skipping $name: $(left)s left"; return; }
  timeout $(( $(left) - 5 < 60 ? $(left) - 5 : 60 )) dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init \
    --input-len 128 --output-len 128 --concurrency $conc "$@" --output-json /tmp/res/e2e-$name.json > /tmp/e2e-$name.log 2>&1 || { echo "$name rc=$?"; grep -iE 'error|exception' /tmp/e2e-$name.log | head -3; }
  python3 -c "
import json; d = json.load(open('/tmp/res/e2e-$name.json'))
print('$name', [(r['concurrency'], round(r['output_tokens_per_s'], 1), round(r['mean_step_ms'], 3), round(r['tpot_ms']['mean'], 3)) for r in d.get('runs', [d])])" 2>&1 | tail -1
}
for round in a b; do
  run w4-$round 1,1 --quantization zeroquant
  run bf16-$round 1,1
done
run w4-64 64 --quantization zeroquant
run bf16-64 64
tar -C /tmp/res -cf $OUT/results-al.tar .
