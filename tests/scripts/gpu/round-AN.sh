#!/usr/bin/env bash
# Round AN (after round-AM.sh on its machine): where a batch-1 Llama-3-8B decode step's time goes (profile-decode.sh
# under CUPTI), W4A16 with the gated epilogue, without it, and bf16.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAN.log) 2>&1
left() { echo $((${ROUND_SECONDS:-470} - SECONDS)); }
[ -f build/kernels/libinference_kernels.so ] && export ROUND_LIBRARY=$PWD/build/kernels/libinference_kernels.so
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
source tests/scripts/gpu/profile-decode.sh
profile_decode w4a16 --quantization zeroquant
INFERENCE_GROUPWISE_GATED_EPILOGUE=0 profile_decode w4a16-unfused --quantization zeroquant
profile_decode bf16
tar -C /tmp/res -cf $OUT/results-an.tar .
