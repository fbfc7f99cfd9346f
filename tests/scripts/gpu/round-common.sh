# Sourced by the round-*.sh scripts (from the repository root, after their `exec > >(tee ...)`): builds the native
# library with ptxas -v and prints the aligned and Hopper kernels' registers and spills, exports INFERENCE_KERNELS and
# sets SM90 (the Hopper paths at every M) and S (the server dll); kernel_tests TIMEOUT MODE... runs the group-wise and
# LUT-GEMM kernel tests once per mode (default, sm90, sm90-sync); suite NAME TIMEOUT "ENV" ARGS... runs bench-kernels
# ARGS with the environment settings ENV into /tmp/res/NAME.json and prints its last line.
cmake -S src/Kernels -B build/kernels -G Ninja -DCMAKE_PREFIX_PATH=$TORCH_CMAKE_PREFIX_PATH -DCMAKE_CUDA_FLAGS="-Xptxas -v" > /dev/null
cmake --build build/kernels > /tmp/build.log 2>&1 || { echo BUILD FAILED; grep -B2 -A6 'error' /tmp/build.log | head -80; exit 1; }
echo "built in ${SECONDS}s"
grep -iE "serializ|C75" /tmp/build.log | sort | uniq -c | head -6
grep -A4 "Compiling entry function '.*a16_aligned" /tmp/build.log | grep -E "Compiling|registers|spill" | sed -E "s/.*aligned_kernelI([^E]*)E.*/\1/" | paste - - - | cut -c1-160 | head -6
grep -A4 "Compiling entry function '.*dequant_gemm" /tmp/build.log | grep -E "Compiling|registers|spill" | sed -E "s/.*dequant_gemm_sm90_kernelI([^E]*)E.*/\1/" | paste - - - | cut -c1-220 | head -24
export INFERENCE_KERNELS=$PWD/build/kernels/libinference_kernels.so
SM90="INFERENCE_GROUPWISE_SM90=1 INFERENCE_GROUPWISE_SM90_ALL_M=1 INFERENCE_LUTGEMM_SM90=1"
S=".gpu/app/Server/InferenceServer.dll"
mkdir -p /tmp/res
kernel_tests() {
  local limit=$1 mode env
  shift
  for mode in "$@"; do
    env=""; [ $mode = sm90 ] && env="$SM90"; [ $mode = sm90-sync ] && env="$SM90 INFERENCE_DEQUANT_SM90_SYNC_MMA=1"
    env $env timeout $limit dotnet .gpu/app/Gpu.Tests/Gpu.Tests.dll --filter-class '*GroupwiseKernelTests' --filter-class '*LutGemmKernelTests' > $OUT/kernel-tests-$mode.log 2>&1; echo "$mode tests rc=$? at ${SECONDS}s"
    grep -E '\[FAIL\]|total:|succeeded:|failed:' $OUT/kernel-tests-$mode.log | head -20
    grep -A8 '\[FAIL\]' $OUT/kernel-tests-$mode.log | grep -E 'Assert|error|Error|Exception' | head -12
  done
}
suite() {
  local name=$1 limit=$2 settings=$3
  shift 3
  env $settings timeout $limit dotnet $S bench-kernels "$@" --output-json /tmp/res/$name.json 2>&1 | grep -v '^ \|^{\|^}' | tail -1
}
