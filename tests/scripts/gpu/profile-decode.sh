#!/usr/bin/env bash
# Where a decode step's GPU time goes. Usage, on the GPU machine after round-common.sh's build (S set, INFERENCE_KERNELS
# exported):  profile_decode NAME [bench flags...]
# Runs `bench` on the Llama-3-8B shape (dummy weights, 16 prompt + 256 output tokens, one request, CUDA graphs as served)
# under Nsight Systems with graph nodes traced or, where the machine has no nsys, under kernel-trace/ktrace.cpp (CUPTI
# kernel records), then prints from the steady decode window (the GPU trace's last 192 steps, by the run's mean time per
# output token): the GPU's busy share of that window and, per kernel name, its time per decode step, the part of it
# that no earlier kernel overlaps (with programmatic launches a kernel starts before the one it waits for ends, so
# only this part adds to the step), and launches per step.
# A busy share well below 1 means the host (scheduling, launches, copies) paces the step, not the kernels.
# Writes $OUT/NAME-kernels.csv (the per-kernel table), $OUT/NAME-steps.csv (the last two steps kernel by kernel) and /tmp/res/e2e-NAME.json (the bench result).
profile_decode() {
  local name=$1
  shift
  local nsys_bin trace=/tmp/prof-${name}_cuda_gpu_trace.csv
  local bench="dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init
    --input-len 16 --output-len 256 --concurrency 1 $* --output-json /tmp/res/e2e-$name.json"
  nsys_bin=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys /usr/local/cuda/nsight-systems*/bin/nsys 2>/dev/null | head -1)
  if [ -n "$nsys_bin" ]; then
    echo "=== profile $name at ${SECONDS}s ($nsys_bin)"
    timeout 120 "$nsys_bin" profile -t cuda --cuda-graph-trace=node --sample=none --cpuctxsw=none --force-overwrite true -o /tmp/prof-$name \
      $bench > /tmp/prof-$name.log 2>&1 || { echo "nsys failed"; tail -5 /tmp/prof-$name.log; return 1; }
    timeout 120 "$nsys_bin" stats --report cuda_gpu_trace --format csv --force-export true -o /tmp/prof-$name /tmp/prof-$name.nsys-rep > /dev/null 2>&1
  else
    local ktrace
    ktrace=$(bash tests/scripts/gpu/kernel-trace/build.sh) || { echo "profile $name: neither nsys nor CUPTI"; return 1; }
    echo "=== profile $name at ${SECONDS}s (CUPTI)"
    CUDA_INJECTION64_PATH=$ktrace KTRACE_CSV=$trace timeout 120 $bench > /tmp/prof-$name.log 2>&1 ||
      { echo "traced bench failed"; tail -5 /tmp/prof-$name.log; return 1; }
  fi
  python3 - $trace /tmp/res/e2e-$name.json $OUT/$name-kernels.csv <<'PY'
import csv, json, sys, collections
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get('Name')]   # kernels and memory copies
spans = sorted((int(r['Start (ns)']), int(r['Duration (ns)']), r['Name']) for r in rows)
d = json.load(open(sys.argv[2])); run = d.get('runs', [d])[-1]
step_ms = run['tpot_ms']['mean']
t1 = max(s + d for s, d, _ in spans)
steps = 192                                               # the steady decode window: the run's last 192 of 256 steps
lo = t1 - int(steps * step_ms * 1e6)
window = [(s, d, n) for s, d, n in spans if s >= lo]
busy, end = 0, lo                                         # union of the intervals; each kernel's share of it is its exposed time
per = collections.defaultdict(lambda: [0, 0, 0])
for s, d, n in window:
    exposed = max(0, s + d - max(s, end))
    busy += exposed; end = max(end, s + d)
    per[n][0] += d; per[n][1] += exposed; per[n][2] += 1
print(f"tpot {step_ms:.3f} ms; window {(t1 - lo) / 1e6:.1f} ms = {steps:.1f} steps; GPU busy {busy / (t1 - lo):.3f}; kernels {busy / 1e6 / steps:.3f} ms/step")
out = csv.writer(open(sys.argv[3], 'w')); out.writerow(['kernel', 'us_per_step', 'exposed_us_per_step', 'launches_per_step'])
ranked = sorted(per.items(), key=lambda kv: -kv[1][1])
for n, (d, e, c) in ranked:
    out.writerow([n, round(d / 1e3 / steps, 2), round(e / 1e3 / steps, 2), round(c / steps, 2)])
for n, (d, e, c) in ranked[:16]:
    print(f"{d / 1e3 / steps:8.1f} us/step {e / 1e3 / steps:8.1f} exposed {c / steps:6.1f}x  {n[:100]}")
last = [(s, d, n) for s, d, n in window if s >= t1 - int(2 * step_ms * 1e6)]   # about the last two steps, kernel by kernel
seq = csv.writer(open(sys.argv[3].replace('-kernels.csv', '-steps.csv'), 'w')); seq.writerow(['start_us', 'duration_us', 'gap_after_previous_end_us', 'kernel'])
prev_end = last[0][0]
for s, d, n in last:
    seq.writerow([round((s - last[0][0]) / 1e3, 2), round(d / 1e3, 2), round((s - prev_end) / 1e3, 2), n[:100]]); prev_end = max(prev_end, s + d)
PY
}
