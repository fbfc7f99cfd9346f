#!/usr/bin/env bash
# Round AF: the Hopper dequantizing GEMM's prefill tiles at 256 channels × 128 tokens (four consumer warpgroups,
# INFERENCE_DEQUANT_SM90_PREFILL_CHANNELS=256) against the default 128 channels × 128 or 256 tokens, and the current
# kernels' figures on whatever card the lease gives.
# Part 1: build (ptxas registers and spills of the prefill instances); the group-wise and LUT-GEMM kernel tests with the
# default choice, with the Hopper kernel at every M, and with it at every M on the tall tiles; the zeroquant suite at
# 1, 16, 64 and 1024 tokens; 1024 and 4096 tokens on the Hopper kernel with each tile against dequantize + cuBLAS,
# twice, alternating. Part 2 (warm machine): Llama-3-8B end to end, bf16, W4A16 and 3-bit LUT-GEMM.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAF$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }
TALL="INFERENCE_DEQUANT_SM90_PREFILL_CHANNELS=256"
line() {  # line NAME: W4A16 (as chosen) and dequantize + cuBLAS against cuBLAS bf16, copy fraction, per shape microseconds
  python3 -c "
import json; d = json.load(open('/tmp/res/$1.json')); g = lambda k: {m: round(v, 3) for m, v in d[k].items()}
print('$1 W4A16', g('geomean_w4a16_speedup_vs_cublas_bf16'), 'dequantize + cuBLAS', g('geomean_w4a16_dequant_gemm_speedup_vs_cublas_bf16'), 'bw', g('geomean_w4a16_fraction_of_copy_bandwidth'))
print('   ', ' '.join('%d/%dx%d:%.1f/%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us'], r['w4a16_dequant_gemm_us']) for r in d['results']))"
}
if [ "$1" = 1 ]; then
  trap 'grep -v C751 /tmp/common.log | head -60' EXIT
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1
  trap - EXIT
  echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
  grep -A4 "Compiling entry function '.*dequant_gemm_sm90_kernel.*Li128ELi[24]ELi1E" /tmp/build.log | grep -E "registers|spill" | head -8 | cut -c1-150
  cp $INFERENCE_KERNELS /tmp/new.so
  kernel_tests 70 default sm90 sm90-tall
  suite zq 100 "" --suite zeroquant --m 1,16,64,1024 > /dev/null && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json && line zq
  for round in a b; do
    for v in default tall; do
      [ $(left) -lt 60 ] && break
      env="$SM90"; [ $v = tall ] && env="$SM90 $TALL"
      suite prefill-$v-$round 70 "$env" --suite zeroquant --m 1024,4096 > /dev/null && line prefill-$v-$round
    done
  done
  tar -C /tmp/res -cf $OUT/results-af1.tar .
elif [ "$1" = 2 ]; then
  [ -f /tmp/new.so ] && export ROUND_LIBRARY=/tmp/new.so
  source tests/scripts/gpu/round-common.sh > /dev/null
  e2e bf16 ""
  e2e w4a16 "" --quantization zeroquant
  e2e lut3 "" --quantization lutgemm --weight-bits 3 --group-size 128
  tar -C /tmp/res -cf $OUT/results-af2.tar .
fi
