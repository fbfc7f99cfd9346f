#!/usr/bin/env bash
# Round AI: build; the group-wise kernel tests with INFERENCE_GROUPWISE_FUSED_INPUT=1 (the fused-input tests among
# them: silu(gate)·up and RMSNorm computed by the one-token kernel as it copies x, against silu_mul / the norm kernels
# then the GEMM) and CudaZeroQuantTests' decode-against-full-forward check with it; then Llama-3-8B batch-1 decode end
# to end (dummy weights, 128 + 128 tokens), W4A16 with the fused inputs (INFERENCE_GROUPWISE_FUSED_INPUT=1) and without
# (the default), and bf16, alternating, twice; one 64-concurrent run of each W4A16 setting last.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAI.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
INFERENCE_GROUPWISE_FUSED_INPUT=1 timeout 60 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' > $OUT/kernel-tests.log 2>&1; echo "tests rc=$? at ${SECONDS}s"
grep -E '\[FAIL\]|total:|succeeded:|failed:' $OUT/kernel-tests.log | head -20
grep -A8 '\[FAIL\]' $OUT/kernel-tests.log | grep -E 'Assert|error|Error|Exception|differs' | head -12
INFERENCE_GROUPWISE_FUSED_INPUT=1 timeout 60 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-method '*DecodeStepLogitsMatchTheFullForward' > $OUT/decode-test.log 2>&1
echo "decode test rc=$? at ${SECONDS}s"; grep -E '\[FAIL\]|total:|succeeded:|failed:|differ' $OUT/decode-test.log | head -6
run() {  # run NAME CONCURRENCY "ENV" FLAGS...
  local name=$1 conc=$2 settings=$3
  shift 3
  [ $(left) -lt 35 ] && { echo "skipping $name: $(left)s left"; return; }
  env $settings timeout $(( $(left) - 5 < 60 ? $(left) - 5 : 60 )) dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init \
    --input-len 128 --output-len 128 --concurrency $conc "$@" --output-json /tmp/res/e2e-$name.json > /tmp/e2e-$name.log 2>&1 || { echo "$name rc=$?"; grep -iE 'error|exception' /tmp/e2e-$name.log | head -3; }
  python3 -c "import json; print('$name', [(r['concurrency'], round(r['output_tokens_per_s'], 1), round(r['mean_step_ms'], 3)) for r in json.load(open('/tmp/res/e2e-$name.json'))['runs']])" 2>&1 | tail -1
}
for round in a b; do
  run fused-$round 1,1 "INFERENCE_GROUPWISE_FUSED_INPUT=1" --quantization zeroquant
  run unfused-$round 1,1 "" --quantization zeroquant
  run bf16-$round 1,1 ""
done
run fused-64 64 "INFERENCE_GROUPWISE_FUSED_INPUT=1" --quantization zeroquant
run unfused-64 64 "" --quantization zeroquant
tar -C /tmp/res -cf $OUT/results-ai.tar .
