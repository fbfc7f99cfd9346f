#!/usr/bin/env bash
# Round R: the default kernel choices as serving makes them. Build with ptxas -v (the one-token LUT-GEMM kernel's
# registers and spills), the group-wise and LUT-GEMM kernel tests, the device copy timed eagerly and from a CUDA graph
# (PyTorch), the zeroquant and lutgemm suites with their default shapes, Llama-3-8B end to end in bf16, W4A16 and 3-bit
# BCQ, then OPT-175B in 3-bit BCQ against its dequantize-then-GEMM path as time allows.
set -o pipefail
cd "$(dirname "$0")/../../.."
exec > >(tee $OUT/roundR.log) 2>&1
left() { echo $((${ROUND_SECONDS:-590} - SECONDS)); }  # ROUND_SECONDS: the call's limit, less 10 s
source tests/scripts/gpu/round-common.sh
registers lut_gemm_m1_kernel 8
kernel_tests 150 default
python3 - <<'PY'
import time, torch
x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda"); y = torch.empty_like(x)
y.copy_(x); torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(20): y.copy_(x)
torch.cuda.synchronize(); print("copy eager TB/s %.2f" % (2 * 20 * x.numel() / (time.perf_counter() - t) / 1e12))
g = torch.cuda.CUDAGraph()
with torch.cuda.graph(g):
  for _ in range(5): y.copy_(x)
g.replay(); torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(4): g.replay()
torch.cuda.synchronize(); print("copy graph TB/s %.2f" % (2 * 20 * x.numel() / (time.perf_counter() - t) / 1e12))
PY
suite zq 150 "" --suite zeroquant --m 1,16,64,1024
suite lut 220 "" --suite lutgemm
python3 - <<'PY'
import json
d = json.load(open('/tmp/res/zq.json')); print('copy', round(d['device_copy_tb_per_s'], 2))
print('zq geo', {k: round(v, 2) for k, v in d['geomean_w4a16_speedup_vs_cublas_bf16'].items()}, 'bw', {k: round(v, 2) for k, v in d['geomean_w4a16_fraction_of_copy_bandwidth'].items()})
for r in d['results']: print(r['m'], r['n'], r['k'], 'cublas %.1f w4 %.1f sp %.2f fr %.2f' % (r['cublas_bf16_us'], r['w4a16_us'], r['w4a16_speedup'], r['w4a16_fraction_of_copy_bandwidth']))
d = json.load(open('/tmp/res/lut.json'))
for q in ('q3', 'q4'):
  for key in ('lut_speedup_vs_cublas_bf16', 'lut_speedup_vs_dequant_gemm', 'lut_fraction_of_copy_bandwidth'):
    print(q, key, {k: round(v, 2) for k, v in d['geomean_%s_%s' % (q, key)].items()})
for r in d['results']: print(r['m'], r['n'], r['k'], 'cublas %.1f q3 %.1f q4 %.1f deq %.1f tc %.1f' % (r['cublas_bf16_us'], r['q3_lut_us'], r['q4_lut_us'], r['q3_dequant_gemm_us'], r.get('q3_tensor_core_kernel_us', 0)), r['q3_lut_kernel'])
PY
tar -C /tmp/res -cf $OUT/results-r.tar .
e2e bf16 ""
e2e zq-w4a16 "" --quantization zeroquant
e2e lut-q3 "" --quantization lutgemm --weight-bits 3 --group-size 128
tar -C /tmp/res -cf $OUT/results-r.tar .
opt175b results-r.tar lut dequant
