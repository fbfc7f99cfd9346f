# Sourced by the round-*.sh scripts (from the repository root, after their `exec > >(tee ...)`): builds the native
# library (unless ROUND_LIBRARY names one already built) with ptxas -v (and EXTRA_CUDA_FLAGS) and prints the aligned and Hopper kernels' registers and spills (registers KERNEL LINES prints
# the first LINES instances of another), exports INFERENCE_KERNELS and sets SM90 (the Hopper paths at every M) and S (the server dll); kernel_tests TIMEOUT MODE... runs the group-wise and
# LUT-GEMM kernel tests once per mode (default, sm90, sm90-sync, sm90-t256: 256-token tiles above 64 rows) through gpu_tests LIMIT NAME "ENV"
# CLASS... (any test classes); suite NAME TIMEOUT "ENV" ARGS... runs bench-kernels
# ARGS with the environment settings ENV into /tmp/res/NAME.json and prints its last line; e2e NAME "ENV" FLAGS... runs
# Llama-3-8B end to end (dummy weights, 128 + 128 tokens, concurrency 1, 1 and 64) into /tmp/res/e2e-NAME.json and prints
# each level's tok/s and mean step ms; opt175b TAR KERNEL... runs OPT-175B in 3-bit BCQ g128 (dummy weights, 128 + 32
# tokens, batch 1 and 16) with each --lutgemm-kernel while the script's left() says there is time, and tars /tmp/res;
# bench_run NAME "ENV" ARGS... runs one Llama-3-8B bench (dummy weights) with ARGS into /tmp/res/e2e-NAME.json;
# sass_counts prints each dequant_gemm_sm90_kernel instance's warpgroup MMAs, full waits after them and local stores.
registers() {
  grep -A4 "Compiling entry function '.*$1" /tmp/build.log | grep -E "Compiling|registers|spill" | sed -E "s/.*$1I([^E]*)E.*/\1/" | paste - - - |
    cut -c1-220 | head -$2
}
if [ -z "${ROUND_LIBRARY:-}" ]; then  # ROUND_LIBRARY: a library an earlier call on this machine built, instead of building
  cmake -S src/Kernels -B build/kernels -G Ninja -DCMAKE_PREFIX_PATH=$TORCH_CMAKE_PREFIX_PATH -DCMAKE_CUDA_FLAGS="-Xptxas -v ${EXTRA_CUDA_FLAGS:-}" > /dev/null
  cmake --build build/kernels > /tmp/build.log 2>&1 || { echo BUILD FAILED; grep -B2 -A6 'error' /tmp/build.log | head -80; exit 1; }
  echo "built in ${SECONDS}s"
  grep -iE "serializ|C75" /tmp/build.log | sort | uniq -c | head -6
  registers groupwise_a16_aligned_kernel 6
  registers dequant_gemm_sm90_kernel 24
fi
export INFERENCE_KERNELS=${ROUND_LIBRARY:-$PWD/build/kernels/libinference_kernels.so}
SM90="INFERENCE_GROUPWISE_SM90=1 INFERENCE_GROUPWISE_SM90_ALL_M=1 INFERENCE_LUTGEMM_SM90=1"
S=".gpu/app/Server/InferenceServer.dll"
mkdir -p /tmp/res
sass_counts() {  # per Hopper kernel instance of the library: warpgroup MMAs, full waits after them, local stores, the instance
  cuobjdump -sass $INFERENCE_KERNELS 2>/dev/null | awk '
    /Function : / { if (f) print h, d, l, f; f = ($3 ~ /dequant_gemm_sm90_kernel/) ? $3 : ""; h = d = l = 0; next }
    f && /HGMMA/ { h++ } f && /WARPGROUP.DEPBAR.LE gsb0, 0x0/ { d++ } f && /STL/ { l++ }
    END { if (f) print h, d, l, f }' | sed -E 's/_Z24dequant_gemm_sm90_kernelI//; s/EEv14CUtensorMap.*//' | cut -c1-200
}
gpu_tests() {  # gpu_tests LIMIT NAME "ENV" CLASS...: those GPU test classes into $OUT/NAME.log; prints the exit code, the summary and failed assertions
  local limit=$1 name=$2 settings=$3 filters=() class
  shift 3
  for class in "$@"; do filters+=(--filter-class "*$class"); done
  env $settings timeout $limit dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll "${filters[@]}" > $OUT/$name.log 2>&1; echo "$name rc=$? at ${SECONDS}s"
  grep -E '\[FAIL\]|total:|succeeded:|failed:' $OUT/$name.log | head -20
  grep -A8 '\[FAIL\]' $OUT/$name.log | grep -E 'Assert|error|Error|Exception' | head -12
}
kernel_tests() {
  local limit=$1 mode env
  shift
  for mode in "$@"; do
    env=""; [ $mode = sm90 ] && env="$SM90"; [ $mode = sm90-sync ] && env="$SM90 INFERENCE_DEQUANT_SM90_SYNC_MMA=1"
    [ $mode = sm90-t256 ] && env="$SM90 INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256"
    gpu_tests $limit kernel-tests-$mode "$env" GroupwiseKernelTests LutGemmKernelTests
  done
}
suite() {
  local name=$1 limit=$2 settings=$3
  shift 3
  env $settings timeout $limit dotnet $S bench-kernels "$@" --output-json /tmp/res/$name.json 2>&1 | grep -v '^ \|^{\|^}' | tail -1
}
e2e() {
  local name=$1 settings=$2
  shift 2
  echo "=== $name at ${SECONDS}s"
  env $settings timeout 65 dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy --skip-tokenizer-init \
    --input-len 128 --output-len 128 --concurrency 1,1,64 "$@" --output-json /tmp/res/e2e-$name.json 2>&1 | grep -E 'error|weights:' | head -3
  python3 -c "import json;[print(r['concurrency'],round(r['output_tokens_per_s'],1),round(r['mean_step_ms'],3)) for r in json.load(open('/tmp/res/e2e-$name.json'))['runs']]" 2>&1 | tail -4
}
bench_run() {  # bench_run NAME "ENV" BENCH_ARGS...: Llama-3-8B (dummy weights) while left() allows, into /tmp/res/e2e-NAME.json;
  # prints each run's concurrency, tok/s, mean step ms and mean decode ms per token
  local name=$1 settings=$2
  shift 2
  [ $(left) -lt 30 ] && { echo "skipping $name: $(left)s left"; return; }
  env $settings timeout $(( $(left) - 5 < 60 ? $(left) - 5 : 60 )) dotnet $S bench --device cuda --model src/Assets/configs/llama-3-8b --load-format dummy \
    --skip-tokenizer-init "$@" --output-json /tmp/res/e2e-$name.json > /tmp/e2e-$name.log 2>&1 || { echo "$name rc=$?"; grep -iE 'error|exception' /tmp/e2e-$name.log | head -3; }
  python3 -c "
import json; d = json.load(open('/tmp/res/e2e-$name.json'))
print('$name', [(r['concurrency'], round(r['output_tokens_per_s'], 1), round(r['mean_step_ms'], 3), round(r['tpot_ms']['mean'], 3)) for r in d.get('runs', [d])])" 2>&1 | tail -1
}
opt175b() {
  local tar=$1 k t
  shift
  for k in "$@"; do
    t=$(( $(left) - 5 )); [ $t -lt 40 ] && { echo "skipping opt-175b $k: ${t}s left"; continue; }
    echo "=== opt-175b $k at ${SECONDS}s, ${t}s"
    timeout $t dotnet $S bench --device cuda --model src/Assets/configs/opt-175b --load-format dummy --skip-tokenizer-init --quantization lutgemm \
      --weight-bits 3 --group-size 128 --concurrency 1,16 --input-len 128 --output-len 32 --lutgemm-kernel $k --output-json /tmp/res/opt175b-$k.json 2>&1 |
      grep -vE '^\s*$' | grep -E 'error|weights:|KV cache|^ *[0-9]' | head -8
    tar -C /tmp/res -cf $OUT/$tar .
  done
}
