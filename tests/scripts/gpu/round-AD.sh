#!/usr/bin/env bash
# Round AD: the one-token W4A16 kernel with the zero point taken off after the MMAs (fragments kBase + u, the chunk's
# Σx in shared memory) against the previous commit's kernel (.round/to-base.patch, made before the call with
# `git diff -R HEAD -- src/Kernels/csrc > .round/to-base.patch`; rebuilt incrementally), and the Hopper kernel's 32-bit
# descriptor add and group shift (.round/hopper.patch, applied on top; its build errors printed if it fails).
# Part 1: the three libraries built in turn with their messages shown; the group-wise and LUT-GEMM kernel tests on the
# newest; the zeroquant suite at 1, 16 and 64 tokens on the base and the newest library, twice each, alternating.
# Part 2 (on the warm machine, libraries kept in /tmp): Llama-3-8B end to end in bf16 and W4A16 on the newest library,
# and W4A16 on the base one.
# Part 3: the Hopper kernel's stages in unconditional pairs (ptxas's C7513 serialization warnings of the one-box
# prefill stages, before and after) with .round/hopper.patch on top; the kernel tests with the automatic choice and with
# the Hopper kernel at every M; the zeroquant suite at 1, 16, 64 and 1024 tokens, and at 1024 and 4096 with the Hopper
# kernel at every M (its prefill tiles against dequantize + cuBLAS in the same run). Part 2 follows on the warm machine.
# Part 4 (run with the dense path's L2-sized slices of W in api_groupwise.cpp, INFERENCE_GROUPWISE_DENSE_SLICE_ROWS,
# and a "slices" mode of kernel_tests in round-common.sh; neither kept): the kernel tests with the automatic choice and
# with 128-row slices; the zeroquant suite at 1, 16, 64 and 1024 tokens; Llama-3-8B end to end in bf16, W4A16 and 3-bit
# LUT-GEMM; the zeroquant suite at 1024 and 4096 tokens with slices and with all rows at
# once (INFERENCE_GROUPWISE_DENSE_SLICE_ROWS=0); one token on N = 256 ... 28672 at K = 4096 (each kernel's fixed cost
# against its bytes); the streaming kernel at 2-16 tokens with the zero point off after the MMAs (.round/m16.patch)
# against without, at 1, 8 and 16 tokens, alternating.
# Without .round/ (a fresh checkout) part 3 builds and measures the tree as it is.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAD$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
zq_line() {  # zq_line NAME: the W4A16 geometric means and per-shape microseconds of /tmp/res/NAME.json
  python3 -c "
import json; d = json.load(open('/tmp/res/$1.json'))
print('$1', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'bw', {k: round(v, 3) for k, v in d['geomean_w4a16_fraction_of_copy_bandwidth'].items()})
print('   ', ' '.join('%d/%dx%d:%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
}
if [ "$1" = 1 ]; then
  source tests/scripts/gpu/round-common.sh
  cp build/kernels/libinference_kernels.so /tmp/fold.so
  git apply .round/to-base.patch && { cmake --build build/kernels > /tmp/build-base.log 2>&1 || { echo "BASE BUILD FAILED"; grep -B2 -A6 error /tmp/build-base.log | head -40; }; }
  cp build/kernels/libinference_kernels.so /tmp/base.so; git apply -R .round/to-base.patch; echo "base built at ${SECONDS}s"
  NEW=/tmp/fold.so
  if git apply .round/hopper.patch; then
    if cmake --build build/kernels > /tmp/build-hopper.log 2>&1; then cp build/kernels/libinference_kernels.so /tmp/hopper.so; NEW=/tmp/hopper.so
    else echo "HOPPER PATCH BUILD FAILED"; grep -B2 -A8 -E 'error|Error' /tmp/build-hopper.log | head -60; fi
  fi
  echo "new library $NEW at ${SECONDS}s"; grep -A4 "Compiling entry function '.*groupwise_a16_aligned_kernel" /tmp/build.log | grep -E "registers|spill" | head -4 | cut -c1-150
  export INFERENCE_KERNELS=$NEW
  kernel_tests 90 default
  for round in a b; do
    for lib in base new; do
      [ $(left) -lt 50 ] && break
      l=$NEW; [ $lib = base ] && l=/tmp/base.so
      suite zq-$lib-$round 75 "INFERENCE_KERNELS=$l" --suite zeroquant --m 1,16,64 > /dev/null; zq_line zq-$lib-$round
    done
  done
  cp $NEW /tmp/new.so
  tar -C /tmp/res -cf $OUT/results-ad1.tar .
elif [ "$1" = 3 ]; then
  trap 'grep -v C751 /tmp/common.log | head -60' EXIT  # the build's errors, if it fails (round-common.sh exits then)
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1
  trap - EXIT
  echo "built at ${SECONDS}s; C7513 (serialized wgmma) warnings by kernel:"
  grep C7513 /tmp/build.log | grep -oE "Weights[^']*Tile[^']*" | sort | uniq -c | cut -c1-120
  cp build/kernels/libinference_kernels.so /tmp/new.so
  if [ -f .round/hopper.patch ] && git apply .round/hopper.patch; then
    if cmake --build build/kernels > /tmp/build-hopper.log 2>&1; then cp build/kernels/libinference_kernels.so /tmp/new.so; echo "hopper patch built at ${SECONDS}s"
    else echo "HOPPER PATCH BUILD FAILED"; grep -B2 -A8 -E 'error|Error' /tmp/build-hopper.log | head -40; fi
  fi
  export INFERENCE_KERNELS=/tmp/new.so
  kernel_tests 80 default sm90
  suite zq 100 "" --suite zeroquant --m 1,16,64,1024 > /dev/null && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json && zq_line zq
  [ $(left) -gt 70 ] && suite zq-prefill 70 "$SM90" --suite zeroquant --m 1024,4096 > /dev/null && python3 -c "
import json; d = json.load(open('/tmp/res/zq-prefill.json'))
print('prefill Hopper / cuBLAS', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'dequantize + cuBLAS', {k: round(v, 3) for k, v in d['geomean_w4a16_dequant_gemm_speedup_vs_cublas_bf16'].items()})
print('   ', ' '.join('%d/%dx%d:%.1f/%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us'], r['w4a16_dequant_gemm_us']) for r in d['results']))"
  tar -C /tmp/res -cf $OUT/results-ad3.tar .
elif [ "$1" = 4 ]; then
  trap 'grep -v C751 /tmp/common.log | head -60' EXIT
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1
  trap - EXIT
  echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"; cp $INFERENCE_KERNELS /tmp/new.so
  kernel_tests 80 default slices
  suite zq 100 "" --suite zeroquant --m 1,16,64,1024 > /dev/null && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json && zq_line zq
  e2e bf16 ""
  e2e w4a16 "" --quantization zeroquant
  e2e lut3 "" --quantization lutgemm --weight-bits 3 --group-size 128
  for v in sliced whole; do
    env=""; [ $v = whole ] && env="INFERENCE_GROUPWISE_DENSE_SLICE_ROWS=0"
    suite zq-$v 80 "$env" --suite zeroquant --m 1024,4096 > /dev/null && python3 -c "
import json; d = json.load(open('/tmp/res/zq-$v.json'))
print('$v', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%dx%d:%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
  done
  if git apply .round/m16.patch && cmake --build build/kernels > /tmp/build-m16.log 2>&1; then
    cp build/kernels/libinference_kernels.so /tmp/m16.so; echo "m16 patch built at ${SECONDS}s"
    INFERENCE_KERNELS=/tmp/m16.so kernel_tests 60 default
    for round in a b; do
      for lib in new m16; do
        [ $(left) -lt 90 ] && break
        suite zq-$lib-$round 45 "INFERENCE_KERNELS=/tmp/$lib.so" --suite zeroquant --m 1,8,16 > /dev/null; zq_line zq-$lib-$round
      done
    done
  else echo "M16 PATCH FAILED"; grep -B2 -A8 -E 'error|Error' /tmp/build-m16.log | head -30; fi
  [ $(left) -gt 40 ] && suite zq-floor 35 "" --suite zeroquant --m 1 --shapes 256x4096,1024x4096,2048x4096,4096x4096,8192x4096,16384x4096,28672x4096 > /dev/null && python3 -c "
import json; d = json.load(open('/tmp/res/zq-floor.json'))
print('one token, N x K: cuBLAS bf16 / W4A16 us', ' '.join('%dx%d:%.2f/%.2f' % (r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
  tar -C /tmp/res -cf $OUT/results-ad4.tar .
elif [ "$1" = 2 ]; then
  [ -f /tmp/new.so ] && export ROUND_LIBRARY=/tmp/new.so  # part 1's, where this is the machine it ran on
  source tests/scripts/gpu/round-common.sh > /dev/null
  [ -f /tmp/new.so ] || cp $INFERENCE_KERNELS /tmp/new.so
  e2e bf16 ""
  e2e w4a16 "INFERENCE_KERNELS=/tmp/new.so" --quantization zeroquant
  [ $(left) -gt 75 ] && [ -f /tmp/base.so ] && e2e w4a16-base "INFERENCE_KERNELS=/tmp/base.so" --quantization zeroquant
  [ $(left) -gt 75 ] && e2e lut3 "INFERENCE_KERNELS=/tmp/new.so" --quantization lutgemm --weight-bits 3 --group-size 128
  tar -C /tmp/res -cf $OUT/results-ad2.tar .
fi
