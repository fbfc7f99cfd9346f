#!/usr/bin/env bash
# Round AM: build; the group-wise kernel tests and the CUDA ZeroQuant tests (the gated MLP's activation from the
# gate/up projection's epilogue, ik_groupwise_gemm_gated); where a batch-1 Llama-3-8B decode step's time goes in the
# served CUDA graph (profile-decode.sh under CUPTI kernel records: each kernel's time and the part of it no earlier
# kernel overlaps), W4A16 with and without the gated epilogue (INFERENCE_GROUPWISE_GATED_EPILOGUE=0: the projection,
# then silu_mul) and bf16; then batch-1 decode untraced, the three alternating twice.
set -o pipefail
cd "$(dirname "$0")/../../.."
source tests/scripts/gpu/round-start.sh roundAM
gpu_tests 150 tests "" GroupwiseKernelTests CudaZeroQuantTests
profile_decode w4a16 --quantization zeroquant
export INFERENCE_GROUPWISE_GATED_EPILOGUE=0
profile_decode w4a16-unfused --quantization zeroquant
unset INFERENCE_GROUPWISE_GATED_EPILOGUE
profile_decode bf16
for round in a b; do
  bench_run w4-$round "" --input-len 128 --output-len 128 --concurrency 1 --quantization zeroquant
  bench_run w4-unfused-$round "INFERENCE_GROUPWISE_GATED_EPILOGUE=0" --input-len 128 --output-len 128 --concurrency 1 --quantization zeroquant
  bench_run bf16-$round "" --input-len 128 --output-len 128 --concurrency 1
done
tar -C /tmp/res -cf $OUT/results-am.tar .
