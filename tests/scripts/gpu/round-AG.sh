#!/usr/bin/env bash
# Round AG: what bounds the Hopper dequantizing GEMM's prefill tiles (128 channels × 256 tokens at 1024 tokens).
# Part 1 (run with EXTRA_CUDA_FLAGS=-lineinfo): build; Nsight Compute's full set (details, raw metrics, per-instruction
# samples as SASS with source lines) of the Hopper kernel and of cuBLAS's bf16 GEMM at 1024 × 4096 × 4096; then the
# zeroquant suite at 1024 tokens on the Hopper kernel as built, without the INT4 decode arithmetic
# (.round/nodecode.patch: the fragments are the packed words), without the warpgroup MMAs (.round/nommas.patch) and
# without both, each rebuilt from the patched tree (the patched variants compute wrong sums: timing only).
# Part 2: build; per Hopper kernel instance, the warpgroup MMAs, the full waits after them and the local stores in its
# SASS; the zeroquant suite at 1024 and 4096 tokens with prefill on the Hopper kernel (256-token tiles with a producer
# warpgroup) against dequantize + cuBLAS, then at 64 and 128 tokens; the kernel tests with the Hopper kernel at every M
# and with 256-token tiles above 64 rows. Part 3 (EXTRA_CUDA_FLAGS=-lineinfo): the SASS counts of part 2, then part 1's
# profile and variants on the Hopper kernel with 256-token tiles above 64 rows.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAG$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }
source tests/scripts/gpu/round-common.sh
echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
if [ "$1" = 1 ] || [ "$1" = 3 ]; then
  profile() {  # profile NAME KERNEL-REGEX "ENV": the full set at 1024 × 4096 × 4096
    [ $(left) -lt 90 ] && return
    env $3 timeout 80 ncu --kernel-name regex:"$2" --launch-count 1 --set full --import-source yes -o /tmp/$1 \
      dotnet $S bench-kernels --iters 2 --suite zeroquant --m 1024 --shapes 4096x4096 > /tmp/$1.log 2>&1 || tail -5 /tmp/$1.log
    ncu -i /tmp/$1.ncu-rep --page details > $OUT/$1-details.txt 2>&1
    ncu -i /tmp/$1.ncu-rep --page raw --csv 2>&1 | xz -9 > $OUT/$1-raw.csv.xz
    ncu -i /tmp/$1.ncu-rep --page source --csv --print-source sass,cuda 2>&1 | xz -9 > $OUT/$1-source.csv.xz
    grep -E ' dequant| nvjet| sm90| cutlass|Duration|Compute \(SM\) Throughput|Memory Throughput|L2 Cache Throughput|L1/TEX Cache Throughput|Issue Slots Busy|Registers Per Thread|Achieved Occupancy|Warp Cycles Per Issued|Eligible Warps|Grid Size|Block Size' $OUT/$1-details.txt | head -24
    echo "profiled $1 at ${SECONDS}s"
  }
  VENV="$SM90"
  if [ "$1" = 1 ]; then
    profile hopper dequant_gemm_sm90_kernel "$SM90"
    profile cublas '^(nvjet|sm90_xmma|cutlass)' ""
  else
    sass_counts
    VENV="$SM90 INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256"
    profile hopper256 dequant_gemm_sm90_kernel "$VENV"
  fi
  variant() {  # variant NAME PATCH...: the zeroquant suite at 1024 tokens on the Hopper kernel with the patches applied
    local p
    for p in "${@:2}"; do git apply .round/$p.patch || return; done
    cmake --build build/kernels > /tmp/build-$1.log 2>&1 || { echo "$1 BUILD FAILED"; grep -A5 error /tmp/build-$1.log | head; }
    [ $(left) -gt 45 ] && suite $1 60 "$VENV" --suite zeroquant --m 1024 > /dev/null && python3 -c "
import json; d = json.load(open('/tmp/res/$1.json'))
print('$1', round(d['geomean_w4a16_speedup_vs_cublas_bf16']['1024'], 3), ' '.join('%dx%d:%.1f/%.1f' % (r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
    for p in "${@:2}"; do git apply -R .round/$p.patch; done
  }
  variant built
  variant nodecode nodecode
  variant nommas nommas
  variant neither nodecode nommas
  [ "$1" = 1 ] && variant built-again
  tar -C /tmp/res -cf $OUT/results-ag$1.tar .
elif [ "$1" = 2 ]; then
  grep -c C751 /tmp/build.log
  sass_counts
  line() {
    python3 -c "
import json; d = json.load(open('/tmp/res/$1.json')); g = lambda k: {m: round(v, 3) for m, v in d[k].items()}
print('$1 W4A16', g('geomean_w4a16_speedup_vs_cublas_bf16'), 'dequantize + cuBLAS', g('geomean_w4a16_dequant_gemm_speedup_vs_cublas_bf16'))
print('   ', ' '.join('%d/%dx%d:%.1f/%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us'], r['w4a16_dequant_gemm_us']) for r in d['results']))"
  }
  suite hopper 90 "$SM90" --suite zeroquant --m 1024,4096 > /dev/null && line hopper
  suite mid 60 "$SM90" --suite zeroquant --m 64,128 > /dev/null && line mid
  suite t256 60 "$SM90 INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256" --suite zeroquant --m 1024 > /dev/null && line t256
  tar -C /tmp/res -cf $OUT/results-ag2.tar .
  kernel_tests 70 sm90 sm90-t256
  [ $(left) -gt 80 ] && suite hopper-b 90 "$SM90" --suite zeroquant --m 1024,4096 > /dev/null && line hopper-b
  tar -C /tmp/res -cf $OUT/results-ag2.tar .
fi
