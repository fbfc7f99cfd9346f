#!/usr/bin/env bash
# Round Z, in parts (the argument, 1 to 9; parts 1 and 2 as two calls on one machine, the second finding the first's
# build). Part 1: build; the prefill paths' dequantize kernels against the previous commit's (.round/to-base.patch,
# made before the call with `git diff HEAD HEAD~1 -- src/Kernels/csrc/groupwise_gemm.cu src/Kernels/csrc/lut_gemm.cu`;
# rebuilt incrementally) in the zeroquant and lutgemm suites at 1024 tokens; the zeroquant suite at 1, 16, 64 and 1024
# tokens for the docs; the group-wise and LUT-GEMM kernel tests. Part 2: the lutgemm suite at 1, 16, 64 and 1024
# tokens; Llama-3-8B end to end in bf16 and W4A16; OPT-175B in 3-bit BCQ with the LUT-GEMM kernels and with
# dequantize-then-GEMM (on an H200). Part 3 (one call on an H200): the zeroquant suite at 1, 16, 64 and 1024 tokens,
# the lutgemm suite at 1 and 1024, then OPT-175B as in part 2, then Nsight Compute's per-instruction stall samples of
# the one-token LUT-GEMM kernel and the aligned W4A16 kernel at 1 and 16 tokens (run with EXTRA_CUDA_FLAGS=-lineinfo).
# Part 4: the lutgemm suite at one token against the previous commit's one-token kernel (.round/to-base.patch, made
# before the call with `git diff HEAD HEAD~1 -- src/Kernels/csrc/lut_gemm.cu`), then the LUT-GEMM kernel tests. Part 5
# (an H200): the lutgemm suite at one token and OPT-175B with the LUT-GEMM kernels. Part 6: the group-wise and LUT-GEMM
# kernel tests; the zeroquant suite at 1 and 16 tokens against the aligned kernel before its zero points were kept as
# loaded (.round/to-base.patch from `git diff a39d1a1 a39d1a1~1 -- src/Kernels/csrc/groupwise_a16_aligned.cu`). Part 7
# (after part 6, on its machine): the lutgemm suite at 1 and 8 tokens as built, with INFERENCE_PDL=0, and with
# IK_LUTGEMM_LAST_BLOCK_SUM=0 (the split-K sum as a second kernel); then at one token with 4 and 16 blocks per SM
# (IK_LUTGEMM_BLOCKS_PER_SM; 8 as built); then the zeroquant suite at 16 tokens with the aligned kernel's ring at 4
# (as built), 3 and 2 stages (INFERENCE_GROUPWISE_A16_STAGES). Part 8: the group-wise and LUT-GEMM kernel tests; the
# lutgemm suite at one token with lut_gemm_splits' rule and with 8 blocks per SM everywhere; the zeroquant suite at 1
# and 16 tokens with 4 and 2 stages, then the same against the aligned kernel before its zero points were kept as
# loaded (.round/to-base.patch). Part 9: every Gpu.Tests test.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundZ$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh > /dev/null
echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
if [ "$1" = 1 ]; then
  prefill() {  # prefill NAME: both suites at 1024 tokens
    suite zq-$1 60 "" --suite zeroquant --m 1024 > /dev/null
    suite lut-$1 90 "" --suite lutgemm --m 1024 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/zq-$1.json')); l = json.load(open('/tmp/res/lut-$1.json'))
print('$1 w4a16', round(d['geomean_w4a16_speedup_vs_cublas_bf16']['1024'], 3), ' '.join('%d:%.0f' % (r['n'], r['w4a16_us']) for r in d['results']))
print('$1 q3 lut', round(l['geomean_q3_lut_speedup_vs_cublas_bf16']['1024'], 3), 'q3 dequant', round(l['geomean_q3_lut_speedup_vs_dequant_gemm']['1024'], 3), ' '.join('%dx%d:%.0f/%.0f' % (r['n'], r['k'], r['q3_lut_us'], r['q3_dequant_gemm_us']) for r in l['results']))"
  }
  prefill new
  git apply .round/to-base.patch && cmake --build build/kernels > /tmp/build-base.log 2>&1 && prefill base
  git apply -R .round/to-base.patch && cmake --build build/kernels > /dev/null 2>&1; echo "restored at ${SECONDS}s"
  tar -C /tmp/res -cf $OUT/results-z1.tar .
  suite zq 150 "" --suite zeroquant --m 1,16,64,1024 && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json
  python3 -c "
import json; d = json.load(open('/tmp/res/zq.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
for key in ('w4a16_speedup_vs_cublas_bf16', 'w4a16_fraction_of_copy_bandwidth', 'w8a16_speedup_vs_cublas_bf16', 'w4a8_speedup_vs_cublas_bf16', 'w4a16_dequant_gemm_speedup_vs_cublas_bf16'):
  print(key, {k: round(v, 2) for k, v in d['geomean_' + key].items()})"
  kernel_tests $(( $(left) - 5 )) default
elif [ "$1" = 3 ]; then
  suite zq 150 "" --suite zeroquant --m 1,16,64,1024 && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json
  suite lut 120 "" --suite lutgemm --m 1,1024 && cp /tmp/res/lut.json $OUT/lutgemm-kernels.json
  python3 -c "
import json; d = json.load(open('/tmp/res/zq.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
for key in ('w4a16_speedup_vs_cublas_bf16', 'w4a16_fraction_of_copy_bandwidth'): print(key, {k: round(v, 2) for k, v in d['geomean_' + key].items()})
d = json.load(open('/tmp/res/lut.json'))
for k, v in d.items():
  if k.startswith('geomean_q3_lut') or k.startswith('geomean_q4_lut_speedup_vs_cublas'): print(k, {m: round(x, 2) for m, x in v.items()})"
  tar -C /tmp/res -cf $OUT/results-z3.tar .
  opt175b results-z3.tar lut dequant
  # Per-instruction stall samples (the build has -lineinfo) of the one-token kernels, as SASS with source lines.
  profile() {  # profile NAME KERNEL-REGEX SUITE M SHAPE
    [ $(left) -lt 60 ] && return
    timeout 50 ncu --kernel-name regex:$2 --launch-count 1 --section SourceCounters --section WarpStateStats --import-source yes -o /tmp/$1 \
      dotnet $S bench-kernels --iters 2 --suite $3 --m $4 --shapes $5 > /tmp/$1.log 2>&1
    ncu -i /tmp/$1.ncu-rep --page source --csv --print-source sass,cuda 2>&1 | xz -9 > $OUT/$1-source.csv.xz
    ncu -i /tmp/$1.ncu-rep --page details 2>&1 | grep -E 'Stall|Warp Cycles|Issued|Duration|Registers|Achieved Occupancy' | head -30
  }
  profile lut-m1 lut_gemm_m1 lutgemm 1 12288x49152
  profile w4-m1 groupwise_a16_aligned zeroquant 1 28672x4096
  profile w4-m16 groupwise_a16_aligned zeroquant 16 28672x4096
elif [ "$1" = 4 ]; then
  one_token() {  # one_token NAME: the lutgemm suite at one token
    suite lut-$1 60 "" --suite lutgemm --m 1 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/lut-$1.json')); g = lambda k: round(d[k]['1'], 3)
print('$1 q3', g('geomean_q3_lut_speedup_vs_cublas_bf16'), 'q4', g('geomean_q4_lut_speedup_vs_cublas_bf16'), 'q3 bw', g('geomean_q3_lut_fraction_of_copy_bandwidth'), ' '.join('%d:%.1f' % (r['n'], r['q3_lut_us']) for r in d['results']))"
  }
  one_token new
  cp /tmp/res/lut-new.json $OUT/lutgemm-kernels-m1.json
  git apply .round/to-base.patch && cmake --build build/kernels > /tmp/build-base.log 2>&1 && one_token base
  git apply -R .round/to-base.patch && cmake --build build/kernels > /dev/null 2>&1; echo "restored at ${SECONDS}s"
  tar -C /tmp/res -cf $OUT/results-z4.tar .
  timeout $(( $(left) - 5 )) dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*LutGemmKernelTests' > $OUT/kernel-tests.log 2>&1; echo "tests rc=$? at ${SECONDS}s"
  grep -E 'failed |total:|failed:' $OUT/kernel-tests.log | head
elif [ "$1" = 5 ]; then
  suite lut 60 "" --suite lutgemm --m 1 && cp /tmp/res/lut.json $OUT/lutgemm-kernels-m1.json
  python3 -c "
import json; d = json.load(open('/tmp/res/lut.json')); print({k: round(v['1'], 3) for k, v in d.items() if k.startswith('geomean')})"
  opt175b results-z5.tar lut
elif [ "$1" = 7 ]; then
  suite lut-built 90 "" --suite lutgemm --m 1,8 > /dev/null
  suite lut-nopdl 90 "INFERENCE_PDL=0" --suite lutgemm --m 1,8 > /dev/null
  suite lut-reducekernel 90 "IK_LUTGEMM_LAST_BLOCK_SUM=0" --suite lutgemm --m 1,8 > /dev/null
  python3 -c "
import json
for n in ('built', 'nopdl', 'reducekernel'):
  d = json.load(open('/tmp/res/lut-%s.json' % n))
  for m in ('1', '8'):
    print(n, m, 'q3', round(d['geomean_q3_lut_speedup_vs_cublas_bf16'][m], 3), 'q4', round(d['geomean_q4_lut_speedup_vs_cublas_bf16'][m], 3), ' '.join('%dx%d:%.1f' % (r['n'], r['k'], r['q3_lut_us']) for r in d['results'] if str(r['m']) == m))"
  for b in 4 16; do
    suite lut-bps$b 60 "IK_LUTGEMM_BLOCKS_PER_SM=$b" --suite lutgemm --m 1 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/lut-bps$b.json'))
print('blocks/SM $b q3', round(d['geomean_q3_lut_speedup_vs_cublas_bf16']['1'], 3), 'q4', round(d['geomean_q4_lut_speedup_vs_cublas_bf16']['1'], 3), ' '.join('%dx%d:%.1f' % (r['n'], r['k'], r['q3_lut_us']) for r in d['results']))"
  done
  for st in 4 3 2; do
    suite zq-stages$st 60 "INFERENCE_GROUPWISE_A16_STAGES=$st" --suite zeroquant --m 16 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/zq-stages$st.json'))
print('stages $st w4a16', round(d['geomean_w4a16_speedup_vs_cublas_bf16']['16'], 3), ' '.join('%d:%.1f' % (r['n'], r['w4a16_us']) for r in d['results']))"
  done
  tar -C /tmp/res -cf $OUT/results-z7.tar .
elif [ "$1" = 8 ]; then
  kernel_tests 90 default
  suite lut-rule 60 "" --suite lutgemm --m 1 > /dev/null
  suite lut-bps8 60 "IK_LUTGEMM_BLOCKS_PER_SM=8" --suite lutgemm --m 1 > /dev/null
  python3 -c "
import json
for n in ('rule', 'bps8'):
  d = json.load(open('/tmp/res/lut-%s.json' % n)); print(n, 'q3', round(d['geomean_q3_lut_speedup_vs_cublas_bf16']['1'], 3), 'q4', round(d['geomean_q4_lut_speedup_vs_cublas_bf16']['1'], 3), ' '.join('%dx%d:%.1f/%.1f' % (r['n'], r['k'], r['q3_lut_us'], r['q4_lut_us']) for r in d['results']))"
  zq() {  # zq NAME ENV: the zeroquant suite at 1 and 16 tokens
    suite zq-$1 60 "$2" --suite zeroquant --m 1,16 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/zq-$1.json'))
print('$1 w4a16', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%d:%.1f' % (r['m'], r['n'], r['w4a16_us']) for r in d['results']))"
  }
  zq new-st4 ""
  zq new-st2 "INFERENCE_GROUPWISE_A16_STAGES=2"
  git apply .round/to-base.patch && cmake --build build/kernels > /tmp/build-base.log 2>&1 && zq base-st4 "" && zq base-st2 "INFERENCE_GROUPWISE_A16_STAGES=2"
  git apply -R .round/to-base.patch && cmake --build build/kernels > /dev/null 2>&1; echo "restored at ${SECONDS}s"
  tar -C /tmp/res -cf $OUT/results-z8.tar .
elif [ "$1" = 9 ]; then
  timeout $(( $(left) - 5 )) dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll > $OUT/gpu-tests.log 2>&1; echo "Gpu.Tests rc=$? at ${SECONDS}s"
  grep -E '\[FAIL\]|total:|succeeded:|failed:|skipped:' $OUT/gpu-tests.log | head -20
  grep -A8 '\[FAIL\]' $OUT/gpu-tests.log | grep -E 'Assert|error|Error|Exception' | head -12
elif [ "$1" = 6 ]; then
  kernel_tests 90 default
  zq() {  # zq NAME: the zeroquant suite at 1 and 16 tokens
    suite zq-$1 60 "" --suite zeroquant --m 1,16 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/zq-$1.json'))
print('$1 w4a16', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%d:%.1f' % (r['m'], r['n'], r['w4a16_us']) for r in d['results']))"
  }
  zq new
  git apply .round/to-base.patch && cmake --build build/kernels > /tmp/build-base.log 2>&1 && zq base
  git apply -R .round/to-base.patch && cmake --build build/kernels > /dev/null 2>&1; echo "restored at ${SECONDS}s"
  tar -C /tmp/res -cf $OUT/results-z6.tar .
else
  suite lut 200 "" --suite lutgemm --m 1,16,64,1024 && cp /tmp/res/lut.json $OUT/lutgemm-kernels.json
  python3 -c "
import json; d = json.load(open('/tmp/res/lut.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
for k, v in d.items():
  if k.startswith('geomean_q3_lut') or k.startswith('geomean_q4_lut_speedup_vs_cublas'): print(k, {m: round(x, 2) for m, x in v.items()})"
  e2e bf16 ""
  e2e w4a16 "" --quantization zeroquant
  tar -C /tmp/res -cf $OUT/results-z2.tar .
  nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && opt175b results-z2.tar lut dequant  # needs the H200's memory
fi
