#!/usr/bin/env bash
# Round AE: the W4A16 streaming kernel's cost per call at one token, and its zero points converted where each stage is
# computed instead of where they are loaded (the tree does that at one token only).
# Part 1 (run with environment switches that the tree no longer has: INFERENCE_GROUPWISE_A16_BLOCKS_PER_SM=1, one
# persistent block per multiprocessor instead of two, which leaves registers and shared memory for the next call's
# blocks to become resident and issue their weight loads before their PDL wait; INFERENCE_GROUPWISE_A16_EARLY_TRIGGER=1,
# launch_dependents at the kernel's start instead of after its own wait): the kernel tests as built and with both
# switches; one token on N x 4096 (N = 256 ... 28672) and 4096 x 14336 as built, with each switch, with both and with
# INFERENCE_PDL=0, twice, alternating; 16 tokens on the four Llama shapes with one and two blocks per multiprocessor.
# Part 3: Nsight Compute on the kernel at 1 and 16 tokens (28672x4096, 4096x14336).
# Part 5: the tree against its commit (.round/to-base.patch, `git diff -R HEAD -- src/Kernels/csrc`, rebuilt
# incrementally): kernel tests, the zeroquant suite at 1, 16 and 64 tokens and the one-token sweep, twice, alternating;
# Llama-3-8B end to end. Part 6: the conversion where computed at one token only (the tree), at every token count
# (.round/defer-all.patch) and nowhere (the commit) at 1-16 tokens. Part 7: the tree's kernel tests and Llama-3-8B end
# to end (bf16, W4A16).
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAE$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }
SWEEP=256x4096,1024x4096,4096x4096,6144x4096,14336x4096,28672x4096,4096x14336
declare -A SET=([base]="" [bps1]="INFERENCE_GROUPWISE_A16_BLOCKS_PER_SM=1" [early]="INFERENCE_GROUPWISE_A16_EARLY_TRIGGER=1"
  [both]="INFERENCE_GROUPWISE_A16_BLOCKS_PER_SM=1 INFERENCE_GROUPWISE_A16_EARLY_TRIGGER=1" [pdl0]="INFERENCE_PDL=0")
line() {  # line NAME: per shape m/NxK: cuBLAS / W4A16 us, and the W4A16 geometric means
  python3 -c "
import json; d = json.load(open('/tmp/res/$1.json'))
print('$1', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%dx%d:%.2f/%.2f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
}
if [ "$1" = 1 ]; then
  trap 'grep -v C751 /tmp/common.log | head -60' EXIT
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1
  trap - EXIT
  echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"; grep -A3 "registers" /tmp/common.log | head -8 | cut -c1-200
  cp $INFERENCE_KERNELS /tmp/new.so
  kernel_tests 70 default
  (export ${SET[both]}; kernel_tests 70 both)
  for round in a b; do
    for v in base bps1 early both pdl0; do
      [ $(left) -lt 100 ] && break
      suite one-$v-$round 40 "${SET[$v]}" --suite zeroquant --m 1 --shapes $SWEEP > /dev/null; line one-$v-$round
    done
  done
  for v in base bps1 base bps1; do
    [ $(left) -lt 40 ] && break
    suite m16-$v 35 "${SET[$v]}" --suite zeroquant --m 16 > /dev/null; line m16-$v
  done
  tar -C /tmp/res -cf $OUT/results-ae1.tar .
elif [ "$1" = 3 ]; then
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { grep -v C751 /tmp/common.log | head -40; exit 1; }
  NCU=$(command -v ncu || ls -d /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  echo "built at ${SECONDS}s; ncu: ${NCU:-none}"; [ -n "$NCU" ] || exit 0
  for m in 16 1; do
    for shape in 28672x4096 4096x14336; do
      [ $(left) -lt 60 ] && break
      echo "=== m $m $shape at ${SECONDS}s"
      timeout 90 $NCU --kernel-name regex:groupwise_a16_aligned --launch-skip 4 --launch-count 1 --set detailed --section WarpStateStats \
        --section SchedulerStats dotnet $S bench-kernels --suite zeroquant --m $m --shapes $shape --iters 2 > $OUT/ncu-m$m-$shape.txt 2>&1
      grep -E "Duration|Memory Throughput|DRAM Throughput|L1/TEX Hit|L2 Hit|Compute \(SM\)|Issue Slots Busy|Executed Ipc A|Achieved Occupancy|Registers Per|Stall|Warp Cycles Per Issued|No Eligible|ERR|Error" $OUT/ncu-m$m-$shape.txt | head -30
    done
  done
elif [ "$1" = 5 ]; then
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { grep -v C751 /tmp/common.log | head -40; exit 1; }
  echo "built at ${SECONDS}s"; grep -A4 "Compiling entry function '.*groupwise_a16_aligned_kernel" /tmp/build.log | grep -E "registers|spill" | head -12 | cut -c1-150
  cp $INFERENCE_KERNELS /tmp/new.so
  git apply .round/to-base.patch && { cmake --build build/kernels > /tmp/build-base.log 2>&1 || { echo "BASE BUILD FAILED"; grep -B2 -A6 error /tmp/build-base.log | head -30; }; }
  cp build/kernels/libinference_kernels.so /tmp/base.so; git apply -R .round/to-base.patch; echo "base built at ${SECONDS}s"
  cmake --build build/kernels > /dev/null 2>&1  # build/ holds the tree's library again (a later part on this machine uses it)
  export INFERENCE_KERNELS=/tmp/new.so
  kernel_tests 70 default
  for round in a b; do
    for lib in base new; do
      [ $(left) -lt 100 ] && break
      suite zq-$lib-$round 40 "INFERENCE_KERNELS=/tmp/$lib.so" --suite zeroquant --m 1,16,64 > /dev/null; line zq-$lib-$round
      suite one-$lib-$round 30 "INFERENCE_KERNELS=/tmp/$lib.so" --suite zeroquant --m 1 --shapes $SWEEP > /dev/null; line one-$lib-$round
    done
  done
  e2e bf16 ""
  for lib in new base; do [ $(left) -gt 30 ] && e2e w4a16-$lib "INFERENCE_KERNELS=/tmp/$lib.so" --quantization zeroquant; done
  tar -C /tmp/res -cf $OUT/results-ae5.tar .
elif [ "$1" = 6 ]; then
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { grep -v C751 /tmp/common.log | head -40; exit 1; }
  echo "built at ${SECONDS}s"; cp $INFERENCE_KERNELS /tmp/new.so
  for v in base all; do
    p=.round/to-base.patch; [ $v = all ] && p=.round/defer-all.patch
    git apply $p && { cmake --build build/kernels > /tmp/build-$v.log 2>&1 || { echo "$v BUILD FAILED"; grep -B2 -A6 error /tmp/build-$v.log | head -30; }; }
    cp build/kernels/libinference_kernels.so /tmp/$v.so; git apply -R $p; echo "$v built at ${SECONDS}s"
  done
  cmake --build build/kernels > /dev/null 2>&1
  export INFERENCE_KERNELS=/tmp/new.so
  kernel_tests 60 default
  for round in a b; do
    for lib in base new all; do
      [ $(left) -lt 60 ] && break
      suite zq-$lib-$round 45 "INFERENCE_KERNELS=/tmp/$lib.so" --suite zeroquant --m 1,2,4,8,16 > /dev/null; line zq-$lib-$round
    done
  done
  tar -C /tmp/res -cf $OUT/results-ae6.tar .
elif [ "$1" = 7 ]; then
  source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { grep -v C751 /tmp/common.log | head -40; exit 1; }
  echo "built at ${SECONDS}s"
  kernel_tests 60 default
  e2e bf16 ""
  e2e w4a16 "" --quantization zeroquant
  tar -C /tmp/res -cf $OUT/results-ae7.tar .
fi
