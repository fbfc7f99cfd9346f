namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The row kernels run by the emulator against HF's and torch's rounding (emulator/check_rows.cpp): RMSNorm, the
/// residual add folded into it and silu(gate)·up (fused_ops.cu), the same with SmoothQuant's per-token INT8
/// quantization fused in and plain per-token quantization (quantize.cu): bit-exact, except that RMSNorm's sum of squares
/// may be added in any order. Vector (width a multiple of 8) and scalar (width 100) paths, dynamic and static scales,
/// float32/float16/bfloat16. Few rows wider than 8192 are spread over a cluster of 8 blocks whose partial sums and
/// maxima meet in distributed shared memory (widths 8200-16384, one to 16 rows). Arguments: dtype, rows, width, static
/// scale (0: per token).
/// </summary>
public sealed class EmulatedRowKernelTests
{
    [Theory]
    [InlineData("quantize", "bf16 20 4096 0")]
    [InlineData("quantize", "fp16 3 100 0")]
    [InlineData("quantize", "fp32 5 1000 0.05")]
    [InlineData("rms-quant", "bf16 20 4096 0")]
    [InlineData("rms-quant", "fp32 5 1000 0")]
    [InlineData("add-rms-quant", "bf16 17 2048 0")]
    [InlineData("silu-quant", "bf16 20 4096 0")]
    [InlineData("silu-quant", "fp16 3 1000 0.02")]
    [InlineData("quantize", "fp16 2 9000 0.03")]
    [InlineData("rms-quant", "bf16 2 16384 0")]
    [InlineData("add-rms-quant", "fp32 16 8200 0")]
    [InlineData("silu-quant", "bf16 3 14336 0")]
    public void QuantizersMatchTorch(string kernel, string args) => KernelEmulator.Check($"rows {kernel} {args}");

    [Theory]
    [InlineData("rms", "bf16 20 4096 0")]
    [InlineData("rms", "fp32 3 100 0")]
    [InlineData("add-rms", "fp16 17 2048 0")]
    [InlineData("silu", "bf16 20 4096 0")]
    [InlineData("silu", "fp16 3 1000 0")]
    [InlineData("rms", "bf16 3 16384 0")]
    [InlineData("add-rms", "fp16 2 12288 0")]
    public void FusedOpsMatchTransformers(string kernel, string args) => KernelEmulator.Check($"rows {kernel} {args}");
}
