#!/usr/bin/env bash
# Round B (the machine still warm, build/kernels kept): kernel suites, ZeroQuant end to end, the rest of the GPU suite.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundB.log) 2>&1
left() { echo $((575 - SECONDS)); }
[ -f build/kernels/libinference_kernels.so ] || { cmake -S src/Kernels -B build/kernels -G Ninja -DCMAKE_PREFIX_PATH=$TORCH_CMAKE_PREFIX_PATH > /dev/null; cmake --build build/kernels > /tmp/build.log 2>&1 || { echo BUILD FAILED; exit 1; }; }
export INFERENCE_KERNELS=$PWD/build/kernels/libinference_kernels.so
S=".gpu/app/Server/InferenceServer.dll"
mkdir -p /tmp/res
timeout 120 dotnet $S bench-kernels --suite zeroquant --output-json /tmp/res/h200-zeroquant-kernels.json 2>&1 | grep -v '^ \|^{\|^}' | tail -30
timeout 120 dotnet $S bench-kernels --suite lutgemm --output-json /tmp/res/h200-lutgemm-kernels.json 2>&1 | grep -v '^ \|^{\|^}' | tail -52
tar -C /tmp/res -cf $OUT/results-b.tar .
B="bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init --input-len 128 --output-len 128 --concurrency 1,1,1,64"
for q in "zq-w4a16:--quantization zeroquant" "zq-mixed:--quantization zeroquant --mixed-precision"; do
  name=${q%%:*}; flags=${q#*:}
  [ $(left) -lt 70 ] && { echo "skipping $name"; continue; }
  echo "=== $name at ${SECONDS}s"
  timeout 65 dotnet $S $B $flags --output-json /tmp/res/e2e-$name.json 2>&1 | grep -E 'error|weights' | head -4
  python3 -c "import json;[print(r['concurrency'],round(r['output_tokens_per_s'],1),round(r['mean_step_ms'],3)) for r in json.load(open('/tmp/res/e2e-$name.json'))['runs']]" 2>&1 | tail -5
done
tar -C /tmp/res -cf $OUT/results-b.tar .
t=$(( $(left) - 10 )); [ $t -gt 30 ] && { echo "=== full GPU suite, ${t}s"; timeout $t dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll > $OUT/gpu-tests-b.log 2>&1; echo "rc=$?"; grep -E '^failed|total:|succeeded:|failed:|skipped:' $OUT/gpu-tests-b.log | head -40; }
cp $OUT/gpu-results.json /tmp/res/ 2>/dev/null; tar -C /tmp/res -cf $OUT/results-b.tar .
