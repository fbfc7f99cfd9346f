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
for round in a b; do
  bench_run w4-$round "" --input-len 128 --output-len 128 --concurrency 1,1 --quantization zeroquant
  bench_run bf16-$round "" --input-len 128 --output-len 128 --concurrency 1,1
done
bench_run w4-64 "" --input-len 128 --output-len 128 --concurrency 64 --quantization zeroquant
bench_run bf16-64 "" --input-len 128 --output-len 128 --concurrency 64
tar -C /tmp/res -cf $OUT/results-al.tar .
