#!/usr/bin/env bash
# Round AH, in parts (the argument). Part 1: build; the zeroquant suite with prefill on the Hopper kernel
# (INFERENCE_GROUPWISE_SM90_ALL_M=1) against dequantize + cuBLAS at 256 to 4096 tokens, to find where serving should
# send prefill to it (it needs no temporary dequantized weight); the same for the lutgemm suite at 3 bits; the kernel
# tests. Part 2 (after part 1, on its machine): one Llama-3-8B decode step at batch 1 kernel by kernel (Nsight
# Compute's gpu__time_duration of every kernel of a short bench run; the decode kernels grouped by name, per step),
# W4A16 then bf16, against the step time the same bench reports without the profiler. Part 3: build; prefill on the
# Hopper kernel at 1024 and 4096 tokens as built and with tests/scripts/gpu/patches/halves.patch (each box's two
# 32-column chunks decoded and sent to the tensor cores in turn, a fence between, so that the first warpgroup MMA of
# a box need not wait for the whole box's decode), twice, alternating, each rebuilt; the patched build's SASS counts and kernel tests with the Hopper
# kernel at every M.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAH$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }
[ "$1" = 2 ] && [ -f build/kernels/libinference_kernels.so ] && export ROUND_LIBRARY=$PWD/build/kernels/libinference_kernels.so
source tests/scripts/gpu/round-common.sh > /tmp/common.log 2>&1 || { head -60 /tmp/common.log; exit 1; }
echo "ready at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
if [ "$1" = 1 ]; then
  line() {  # line NAME KERNEL SECOND-GEOMEAN DEQUANT-US: geometric means, per-shape µs (cuBLAS / kernel / dequantize + cuBLAS)
    python3 -c "
import json; d = json.load(open('/tmp/res/$1.json')); g = lambda k: {m: round(v, 3) for m, v in d[k].items()}
print('$1', g('geomean_$2_speedup_vs_cublas_bf16'), '$3', g('$3'))
for r in d['results']: print('   %d/%dx%d: %.1f / %.1f / %.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['$2_us'], r['$4']))"
  }
  suite zq-sweep 200 "$SM90" --suite zeroquant --m 256,512,1024,2048,4096 > /dev/null &&
    line zq-sweep w4a16 geomean_w4a16_dequant_gemm_speedup_vs_cublas_bf16 w4a16_dequant_gemm_us
  cp /tmp/res/zq-sweep.json $OUT/ 2>/dev/null
  suite lut-sweep 200 "$SM90" --suite lutgemm --m 256,1024,4096 --shapes 6144x4096,4096x4096,28672x4096,4096x14336 > /dev/null &&
    line lut-sweep q3_lut geomean_q3_lut_speedup_vs_dequant_gemm q3_dequant_gemm_us
  cp /tmp/res/lut-sweep.json $OUT/ 2>/dev/null
  kernel_tests 70 sm90 default
  tar -C /tmp/res -cf $OUT/results-ah1.tar .
elif [ "$1" = 2 ]; then
  step() {  # step NAME FLAGS...: the bench's own step time, then every kernel under Nsight Compute
    local name=$1
    shift
    [ $(left) -lt 100 ] && { echo "skipping $name: $(left)s left"; return; }
    timeout 80 dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init \
      --input-len 128 --output-len 16 --concurrency 1,1 "$@" --output-json /tmp/res/step-$name.json > /dev/null 2>&1
    python3 -c "import json; print('$name bench step ms', [round(r['mean_step_ms'], 3) for r in json.load(open('/tmp/res/step-$name.json'))['runs']])"
    timeout $(( $(left) - 20 )) ncu --metrics gpu__time_duration.sum --csv --print-units base --log-file /tmp/ncu-$name.csv \
      dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init \
      --input-len 16 --output-len 12 --concurrency 1 "$@" > /tmp/ncu-$name.log 2>&1 || echo "ncu rc=$? at ${SECONDS}s"
    xz -9 -k -c /tmp/ncu-$name.csv > $OUT/ncu-$name.csv.xz
    python3 - /tmp/ncu-$name.csv <<'PY'
import csv, sys, collections
rows = [r for r in csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"')) if r.get('Metric Name') == 'gpu__time_duration.sum']
us = lambda r: float(r['Metric Value'].replace(',', '')) / 1e3
def kind(n):  # the kernel's family
    for k in ['groupwise_a16', 'skinny_gemm', 'nvjet', 'splitKreduce', 'rms_norm_vec_kernel<__nv_bfloat16, 2, 1', 'rms_norm', 'paged_decode',
              'rotary', 'silu_mul', 'ArgMax', 'flash', 'indexSelect', 'copy', 'add']:
        if k in n: return k
    return n[:50]
# A step ends with its greedy argmax: each span between two is one forward pass (the prefill's has the flash kernel).
ends = [i for i, r in enumerate(rows) if 'ArgMax' in r['Kernel Name']]
for a, b in zip(ends, ends[1:]):
    per, n = collections.defaultdict(float), collections.Counter()
    for r in rows[a + 1:b + 1]: per[kind(r['Kernel Name'])] += us(r); n[kind(r['Kernel Name'])] += 1
    print('%d kernels, %.1f us: ' % (b - a, sum(per.values())) + ', '.join('%s x%d %.1f' % (k, n[k], v) for k, v in sorted(per.items(), key=lambda x: -x[1])))
PY
  }
  step w4a16 --quantization zeroquant
  step bf16
  tar -C /tmp/res -cf $OUT/results-ah2.tar .
elif [ "$1" = 3 ]; then
  prefill() {  # prefill NAME: the zeroquant suite at 1024 and 4096 tokens on the Hopper kernel
    [ $(left) -lt 60 ] && return
    suite $1 70 "$SM90" --suite zeroquant --m 1024,4096 > /dev/null && python3 -c "
import json; d = json.load(open('/tmp/res/$1.json'))
print('$1', {m: round(v, 3) for m, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%d:%.1f/%.1f' % (r['m'], r['n'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
  }
  for round in a b; do
    prefill built-$round
    git apply tests/scripts/gpu/patches/halves.patch && cmake --build build/kernels > /tmp/build-halves.log 2>&1 || { echo "halves BUILD FAILED"; grep -A5 error /tmp/build-halves.log | head; }
    [ $round = a ] && { grep -c C751 /tmp/build-halves.log; sass_counts 2>/dev/null | grep "Int4.*Li2ELi1E"; }
    prefill halves-$round
    [ $round = b ] && kernel_tests 70 sm90
    git apply -R tests/scripts/gpu/patches/halves.patch && cmake --build build/kernels > /dev/null 2>&1
  done
  tar -C /tmp/res -cf $OUT/results-ah3.tar .
fi
