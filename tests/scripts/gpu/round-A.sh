#!/usr/bin/env bash
# Round A: native build, sampler bench, compressed-tensors fixture, NCCL + kernel correctness tests, world-size-1 speed.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundA.log) 2>&1
left() { echo $((575 - SECONDS)); }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
cmake -S src/Kernels -B build/kernels -G Ninja -DCMAKE_PREFIX_PATH=$TORCH_CMAKE_PREFIX_PATH > /dev/null
cmake --build build/kernels > /tmp/build.log 2>&1 || { echo BUILD FAILED; grep -B2 -A6 'error' /tmp/build.log | head -100; exit 1; }
echo "built in ${SECONDS}s"
export INFERENCE_KERNELS=$PWD/build/kernels/libinference_kernels.so
S=".gpu/app/Server/InferenceServer.dll"
mkdir -p /tmp/tok /tmp/res && tar -C /tmp/tok -xJf .gpu-extra/llama3.tar.xz
timeout 90 dotnet $S bench-sampler --device cuda --tokenizer src/Assets/tiny-llama --tokenizer /tmp/tok/llama3 --steps 200 --output-json /tmp/res/h200-structured-outputs.json 2>&1 | grep -v '^ \|^{\|^}' | tail -6
timeout 60 python3 src/Assets/fixtures/hf/make_compressed_tensors_fixture.py --compressed-tensors-src .gpu-extra/ct-src/src --compressed-tensors-commit "$(cat .gpu-extra/ct-commit)" --out /tmp/res/llama3-rope-w4a16-ct 2>&1 | tail -4
tar -C /tmp/res -cf $OUT/results-a.tar .
echo "=== tests at ${SECONDS}s"
timeout 170 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*CudaNcclTests' --filter-class '*GroupwiseKernelTests' --filter-class '*LutGemmKernelTests' > $OUT/gpu-tests-a.log 2>&1; echo "tests rc=$?"
grep -E '^failed|passed|skipped|total:|succeeded:|failed:' $OUT/gpu-tests-a.log | head -40
B="bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init --input-len 128 --output-len 128 --concurrency 1,1,1,64"
for i in 1 2; do
  for backend in uni mp; do
    [ $(left) -lt 70 ] && { echo "skipping $backend $i: $(left)s left"; continue; }
    echo "=== $backend run $i at ${SECONDS}s"
    timeout 65 dotnet $S $B --distributed-executor-backend $backend --output-json /tmp/res/tp1-$backend-$i.json 2>&1 | grep -E 'tensor parallel|error|NCCL' | head -4
    python3 -c "import json;[print(r['concurrency'],round(r['output_tokens_per_s'],1),round(r['mean_step_ms'],3)) for r in json.load(open('/tmp/res/tp1-$backend-$i.json'))['runs']]" 2>&1 | tail -5
  done
done
tar -C /tmp/res -cf $OUT/results-a.tar .
