#!/usr/bin/env bash
# Round T: the persistent group-wise A16 kernel (two blocks per multiprocessor walking the 16-channel tiles) against a
# block per tile (INFERENCE_GROUPWISE_A16_PERSISTENT=0) at 1 and 16 tokens, the group-wise kernel tests both ways, the
# CUDA ZeroQuant perplexities, a Nsight Compute profile of the kernel at 28672 × 4096 where ncu exists, then Llama-3-8B
# end to end in W4A16 and bf16 as time allows.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundT.log) 2>&1
left() { echo $((${ROUND_SECONDS:-420} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh
suite zq-persistent 45 "" --suite zeroquant --m 1,16
suite zq-per-tile 45 "INFERENCE_GROUPWISE_A16_PERSISTENT=0" --suite zeroquant --m 1,16
python3 - <<'PY'
import json
for f in ('zq-persistent', 'zq-per-tile'):
  try: d = json.load(open('/tmp/res/%s.json' % f))
  except Exception as e: print(f, e); continue
  print(f, 'copy', round(d['device_copy_tb_per_s'], 2), 'geo', {k: round(v, 2) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'bw', {k: round(v, 2) for k, v in d['geomean_w4a16_fraction_of_copy_bandwidth'].items()})
  for r in d['results']: print(r['m'], r['n'], r['k'], 'cublas %.1f w4 %.1f' % (r['cublas_bf16_us'], r['w4a16_us']))
PY
tar -C /tmp/res -cf $OUT/results-t.tar .
for mode in default per-tile; do
  env=""; [ $mode = per-tile ] && env="INFERENCE_GROUPWISE_A16_PERSISTENT=0"
  env $env timeout 40 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' > $OUT/kernel-tests-$mode.log 2>&1; echo "$mode tests rc=$? at ${SECONDS}s"
  grep -E '\[FAIL\]|total:|failed:' $OUT/kernel-tests-$mode.log | head
done
timeout 60 dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*CudaZeroQuantTests' > $OUT/zq-perplexity.log 2>&1; echo "zq perplexity rc=$? at ${SECONDS}s"
grep -E '\[FAIL\]|total:|failed:' $OUT/zq-perplexity.log; cp $OUT/gpu-results.json $OUT/zq-perplexity.json; grep zeroquant $OUT/zq-perplexity.json
if command -v ncu > /dev/null; then
  timeout 60 ncu --kernel-name regex:groupwise_a16_aligned --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section WarpStateStats --section Occupancy --section LaunchStats dotnet $S bench-kernels --suite zeroquant --m 1 --shapes 28672x4096 --iters 2 \
    > $OUT/ncu.log 2>&1; echo "ncu rc=$? at ${SECONDS}s"; grep -vE '^\s*$' $OUT/ncu.log | grep -E 'Throughput|Duration|Stall|Warp Cycles|Occupancy|Registers|ERR|Issued' | head -30
else echo "no ncu"; ls /usr/local/cuda*/bin 2>/dev/null | grep -i -E 'ncu|nsight' | head; fi
[ $(left) -gt 80 ] && e2e w4a16 "" --quantization zeroquant --weight-bits 4 --group-size 128
[ $(left) -gt 80 ] && e2e bf16 ""
tar -C /tmp/res -cf $OUT/results-t.tar .
