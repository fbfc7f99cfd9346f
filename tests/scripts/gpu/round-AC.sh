#!/usr/bin/env bash
# Round AC: the Hopper dequantizing kernels (W4A16 at 17-128 rows, LUT-GEMM's tensor-core path) with split-K
# clusters only as large as the device holds all of them at once and less work per stage in the consumer warps.
# Part 1 (any Hopper card): how many clusters of 1-8 blocks of the 64-token tile's size the device holds at once (a
# probe kernel of the same threads and shared memory); the group-wise and LUT-GEMM kernel tests; the zeroquant suite at
# 1, 16, 32, 64 and 1024 tokens, and at 1, 8 and 16 with the Hopper kernel at every M; Nsight Compute of the 64-token
# kernel on 4096x4096 and 28672x4096 (throughputs, stall reasons, per-instruction samples); while time is left the
# lutgemm suite at 16 and 64 rows with the streaming kernel (the default) and the Hopper one, and Llama-3-8B end to
# end in bf16 and W4A16. Part 2: the kernel tests, the zeroquant suite, Nsight Compute of 28672x4096 at 64 tokens,
# the lutgemm suite at 32 and 64 rows with either kernel, and Llama-3-8B end to end in bf16, W4A16 and 3-bit LUT-GEMM.
# Part 3: the kernel tests, 3-bit LUT-GEMM end to end, and the zeroquant suite at 1-32 tokens with the row tiles per
# warp chosen by the grid's rounds (the default), one and four.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundAC$1.log) 2>&1
left() { echo $((${ROUND_SECONDS:-560} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
EXTRA_CUDA_FLAGS=-lineinfo source tests/scripts/gpu/round-common.sh > /dev/null
echo "built at ${SECONDS}s on $(nvidia-smi --query-gpu=name --format=csv,noheader)"
zq_summary() {
  python3 -c "
import json; d = json.load(open('/tmp/res/$1.json')); print(d['gpu'], 'copy', round(d['device_copy_tb_per_s'], 2))
for key in ('w4a16_speedup_vs_cublas_bf16', 'w4a16_fraction_of_copy_bandwidth'):
  print(key, {k: round(v, 2) for k, v in d['geomean_' + key].items()})
print(' '.join('%d/%dx%d:%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
}
probe_clusters() {  # probe_clusters SMEM THREADS
  cat > /tmp/probe.cu <<EOF
#include <cstdio>
#include <cuda_runtime.h>
__global__ void __launch_bounds__($2, 1) probe(int* p) { extern __shared__ int s[]; if (p) p[0] = s[threadIdx.x]; }
int main() {
  cudaFuncSetAttribute(probe, cudaFuncAttributeMaxDynamicSharedMemorySize, $1);
  for (int c = 1; c <= 8; c++) {
    cudaLaunchConfig_t cfg = {}; cfg.gridDim = dim3(c); cfg.blockDim = dim3($2); cfg.dynamicSmemBytes = $1;
    cudaLaunchAttribute a; a.id = cudaLaunchAttributeClusterDimension; a.val.clusterDim.x = c; a.val.clusterDim.y = 1; a.val.clusterDim.z = 1;
    cfg.attrs = &a; cfg.numAttrs = 1;
    int n = 0; cudaError_t e = cudaOccupancyMaxActiveClusters(&n, probe, &cfg);
    printf("smem $1 threads $2: clusters of %d: %d resident (%d blocks) %s\n", c, n, n * c, e == cudaSuccess ? "" : cudaGetErrorString(e));
  }
}
EOF
  nvcc -arch=sm_90a -o /tmp/probe /tmp/probe.cu && /tmp/probe
}
profile() {  # profile NAME KERNEL-REGEX SUITE M SHAPE
  [ $(left) -lt 60 ] && return
  echo "=== ncu $1 at ${SECONDS}s"
  timeout 60 ncu --kernel-name regex:$2 --launch-skip 1 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats \
    --section WarpStateStats --section SourceCounters --section MemoryWorkloadAnalysis --import-source yes -o /tmp/$1 \
    dotnet $S bench-kernels --iters 3 --suite $3 --m $4 --shapes $5 > /tmp/$1.log 2>&1 || { echo "ncu failed"; tail -5 /tmp/$1.log; return; }
  ncu -i /tmp/$1.ncu-rep --page source --csv --print-source sass,cuda 2>&1 | xz -9 > $OUT/$1-source.csv.xz
  ncu -i /tmp/$1.ncu-rep --page details 2>&1 | grep -E 'Duration|Throughput|Registers|Occupancy|Cluster|Grid Size|Shared Memory Config|Warp Cycles|Executed Instructions|Bank' | head -30
  ncu -i /tmp/$1.ncu-rep --page raw --csv 2>&1 | python3 -c "
import csv, sys
rows = list(csv.reader(sys.stdin)); names, values = rows[0], rows[2] if len(rows) > 2 else rows[-1]
st = [(n, v) for n, v in zip(names, values) if n.startswith('smsp__pcsamp_warps_issue_stalled_') and not n.endswith('_not_issued')]
tot = sum(float(v.replace(',', '')) for _, v in st if v.replace(',', '').replace('.', '').isdigit()) or 1
for n, v in sorted(st, key=lambda x: -float(x[1].replace(',', '') or 0))[:10]: print('  stall %-40s %5.1f%%' % (n[33:], 100 * float(v.replace(',', '')) / tot))"
}
lut_rows() {  # lut_rows M,...: the lutgemm suite with the streaming kernel (the default) and the Hopper one
  for v in stream sm90; do
    [ $(left) -lt 60 ] && break
    env=""; [ $v = sm90 ] && env="INFERENCE_LUTGEMM_STREAM=0"
    suite lut-$v 45 "$env" --suite lutgemm --m $1 > /dev/null && python3 -c "
import json; d = json.load(open('/tmp/res/lut-$v.json'))
print('lut $v q3', {k: round(v, 3) for k, v in d['geomean_q3_lut_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%dx%d:%.1f' % (r['m'], r['n'], r['k'], r['q3_lut_us']) for r in d['results']))"
  done
}
if [ "$1" = 1 ]; then
  probe_clusters 197696 288   # the 64-token tile: 4 stages of 48 KiB, two consumer warpgroups and a producer warp
  probe_clusters 99392 160    # a 16-token tile: one consumer warpgroup
  kernel_tests 90 default
  suite zq 120 "" --suite zeroquant --m 1,16,32,64,1024 && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json && zq_summary zq
  suite zq-sm90 60 "$SM90" --suite zeroquant --m 1,8,16 && zq_summary zq-sm90   # the Hopper kernel below 17 rows too
  profile w4-m64-4096 dequant_gemm_sm90 zeroquant 64 4096x4096
  profile w4-m64-28672 dequant_gemm_sm90 zeroquant 64 28672x4096
  lut_rows 16,64
  [ $(left) -gt 75 ] && e2e bf16 ""
  [ $(left) -gt 75 ] && e2e w4a16 "" --quantization zeroquant
  tar -C /tmp/res -cf $OUT/results-ac1.tar .
elif [ "$1" = 2 ]; then  # after part 1's profile: address and loop overhead out of the consumer warps
  kernel_tests 90 default
  suite zq 120 "" --suite zeroquant --m 1,16,32,64,1024 && cp /tmp/res/zq.json $OUT/zeroquant-kernels.json && zq_summary zq
  profile w4-m64-28672 dequant_gemm_sm90 zeroquant 64 28672x4096
  lut_rows 32,64
  [ $(left) -gt 75 ] && e2e bf16 ""
  [ $(left) -gt 75 ] && e2e w4a16 "" --quantization zeroquant
  [ $(left) -gt 75 ] && e2e lut3 "" --quantization lutgemm --weight-bits 3 --group-size 128
  tar -C /tmp/res -cf $OUT/results-ac2.tar .
elif [ "$1" = 3 ]; then  # LUT-GEMM's streaming kernel up to 32 rows, the Hopper one above; the W4A16 row tiles per warp
  kernel_tests 80 default
  e2e lut3 "" --quantization lutgemm --weight-bits 3 --group-size 128
  for rt in "" 1 4; do
    [ $(left) -lt 50 ] && break
    suite zq-rt$rt 50 "INFERENCE_GROUPWISE_A16_ROW_TILES=$rt" --suite zeroquant --m 1,8,16,32 > /dev/null
    python3 -c "
import json; d = json.load(open('/tmp/res/zq-rt$rt.json'))
print('row tiles [$rt]', {k: round(v, 3) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, ' '.join('%d/%dx%d:%.1f/%.1f' % (r['m'], r['n'], r['k'], r['cublas_bf16_us'], r['w4a16_us']) for r in d['results']))"
  done
  tar -C /tmp/res -cf $OUT/results-ac3.tar .
fi
