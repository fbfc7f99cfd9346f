#!/usr/bin/env bash
# Round C: OPT-175B in 3-bit BCQ on one H200, LUT kernels against the dequantize-then-GEMM baseline.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundC.log) 2>&1
[ -f build/kernels/libinference_kernels.so ] || { cmake -S src/Kernels -B build/kernels -G Ninja -DCMAKE_PREFIX_PATH=$TORCH_CMAKE_PREFIX_PATH > /dev/null; cmake --build build/kernels > /tmp/build.log 2>&1 || { echo BUILD FAILED; exit 1; }; }
export INFERENCE_KERNELS=$PWD/build/kernels/libinference_kernels.so
S=".gpu/app/Server/InferenceServer.dll"
mkdir -p /tmp/res
B="bench --device cuda --model src/Assets/configs/opt-175b --load-format dummy --skip-tokenizer-init --quantization lutgemm --weight-bits 3 --group-size 128 --concurrency 1,16 --input-len 128 --output-len 128"
for k in lut dequant; do
  echo "=== $k at ${SECONDS}s"
  timeout 200 dotnet $S $B --lutgemm-kernel $k --output-json /tmp/res/opt175b-$k.json 2>&1 | grep -vE '^\s*$' | grep -E 'error|weights|memory|KV cache|loaded|GiB|tok/s|^ *[0-9]' | head -14
  nvidia-smi --query-gpu=memory.used --format=csv,noheader
  tar -C /tmp/res -cf $OUT/results-c.tar .
done
tar -C /tmp/res -cf $OUT/results-c.tar .
