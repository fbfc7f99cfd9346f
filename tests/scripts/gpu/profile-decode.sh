#!/usr/bin/env bash
# Where a decode step's GPU time goes. Usage, on the GPU machine after round-common.sh's build (S set, INFERENCE_KERNELS
# exported):  profile_decode NAME [bench flags...]
# Runs `bench` on the Llama-3-8B shape (dummy weights, 16 prompt + 256 output tokens, one request, CUDA graphs as served)
# under Nsight Systems with graph nodes traced, then prints from the steady decode window (the GPU trace's last 192
# steps, by the run's mean time per output token): the GPU's busy share of that window and, per kernel name, its time per decode step and launches per step.
# A busy share well below 1 means the host (scheduling, launches, copies) paces the step, not the kernels.
# Writes $OUT/NAME-kernels.csv (the per-kernel table) and /tmp/res/e2e-NAME.json (the bench result).
profile_decode() {
  local name=$1
  shift
  local nsys_bin
  nsys_bin=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys /usr/local/cuda/nsight-systems*/bin/nsys 2>/dev/null | head -1)
  [ -z "$nsys_bin" ] && { echo "profile $name: no nsys on this machine"; return 1; }
  echo "=== profile $name at ${SECONDS}s ($nsys_bin)"
  timeout 120 "$nsys_bin" profile -t cuda --cuda-graph-trace=node --sample=none --cpuctxsw=none --force-overwrite true -o /tmp/prof-$name \
    dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init \
      --input-len 16 --output-len 256 --concurrency 1 "$@" --output-json /tmp/res/e2e-$name.json > /tmp/prof-$name.log 2>&1 ||
    { echo "nsys failed"; tail -5 /tmp/prof-$name.log; return 1; }
  timeout 120 "$nsys_bin" stats --report cuda_gpu_trace --format csv --force-export true -o /tmp/prof-$name /tmp/prof-$name.nsys-rep > /dev/null 2>&1
  python3 - /tmp/prof-${name}_cuda_gpu_trace.csv /tmp/res/e2e-$name.json $OUT/$name-kernels.csv <<'PY'
import csv, json, sys, collections
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get('Name')]   # kernels and memory copies
spans = sorted((int(r['Start (ns)']), int(r['Duration (ns)']), r['Name']) for r in rows)
run = json.load(open(sys.argv[2]))['runs'][-1]
step_ms = run['tpot_ms']['mean']
t1 = max(s + d for s, d, _ in spans)
steps = 192                                               # the steady decode window: the run's last 192 of 256 steps
lo = t1 - int(steps * step_ms * 1e6)
window = [(s, d, n) for s, d, n in spans if s >= lo]
busy, end = 0, lo                                         # union of the intervals (one stream: they barely overlap)
for s, d, _ in window:
    if s + d > end: busy += s + d - max(s, end); end = s + d
per = collections.defaultdict(lambda: [0, 0])
for _, d, n in window: per[n][0] += d; per[n][1] += 1
print(f"tpot {step_ms:.3f} ms; window {(t1 - lo) / 1e6:.1f} ms = {steps:.1f} steps; GPU busy {busy / (t1 - lo):.3f}; kernels {busy / 1e6 / steps:.3f} ms/step")
out = csv.writer(open(sys.argv[3], 'w')); out.writerow(['kernel', 'us_per_step', 'launches_per_step'])
for n, (d, c) in sorted(per.items(), key=lambda kv: -kv[1][0]):
    out.writerow([n, round(d / 1e3 / steps, 2), round(c / steps, 2)])
for n, (d, c) in sorted(per.items(), key=lambda kv: -kv[1][0])[:14]:
    print(f"{d / 1e3 / steps:8.1f} us/step {c / steps:6.1f}x  {n[:110]}")
PY
}
