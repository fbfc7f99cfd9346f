#!/usr/bin/env bash
# Round Q, the short form of round-P.sh for a lease with little time: build with ptxas -v, the group-wise and LUT-GEMM
# kernel tests with the default paths and with the opt-in Hopper ones, and the zeroquant suite at M = 1, 16, 64 for the
# aligned kernel, the general one and the aligned one with 4 row groups per block.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundQ.log) 2>&1
source tests/scripts/gpu/round-common.sh
kernel_tests 120 default sm90
suite zq-aligned 60 "" --suite zeroquant --m 1,16,64
suite zq-general 50 "INFERENCE_GROUPWISE_A16_ALIGNED=0" --suite zeroquant --m 1,16,64
suite zq-rg4 50 "INFERENCE_GROUPWISE_A16_ROW_GROUPS=4" --suite zeroquant --m 1,16,64
tar -C /tmp/res -cf $OUT/results-q.tar .
