namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The LUT-GEMM CUDA kernels of lut_gemm.cu run by the emulator (<see cref="KernelEmulator"/>) against the matmul of
/// the BCQ weights' definition, with the error bounds of tests/Gpu.Tests/LutGemmKernelTests: the table kernel (M ≤ 8;
/// M = 1 on the one-token kernel unless IK_LUTGEMM_M1_KERNEL=0), the streaming kernel of bcq_stream.cu, the
/// tensor-core kernel and the dequantize kernel. Arguments: dtype, f32|f16 scales, bits q, group, M, N, K, split-K
/// blocks, x's offset in elements (1 puts x's rows off 16-byte boundaries).
/// </summary>
public sealed class EmulatedLutGemmKernelTests
{
    public static TheoryData<string, string> Table => new()
    {
        { "bf16 f32 1 32 1 520 96 1 0", "" },
        { "fp16 f16 4 256 1 1032 4096 4 0", "" },            // M = 1, whole slabs, split K
        { "bf16 f32 3 128 1 520 1000 3 1", "" },             // M = 1, x not 16-byte aligned, a partial last word
        { "bf16 f32 3 128 1 264 4096 1 0", "" },             // M = 1, 32 slabs per block: the one-slab-ahead loads turn over
        { "bf16 f16 3 128 1 264 1024 8 0", "" },             // M = 1, one slab per block: no loads ahead
        { "fp16 f16 2 64 1 264 1000 1 1", "" },              // M = 1, 2-word slabs (G = 64), x off 16 bytes, a partial last word
        { "bf16 f32 3 128 1 520 1000 3 0", "IK_LUTGEMM_M1_KERNEL=0" },
        { "fp32 f32 3 128 1 520 1000 2 0", "" },
        { "bf16 f16 2 64 3 1032 200 1 0", "" },              // K not a multiple of the group nor of 32
        { "fp16 f32 3 128 8 520 1000 2 0", "" },
        { "bf16 f32 3 64 2 520 1000 1 0", "" },              // two rows: 8-byte table entries
        { "bf16 f32 1 256 3 96 4104 5 0", "" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void TableKernelMatchesTheDequantizedMatmul(string args, string environment) => KernelEmulator.Check("lut table " + args, environment);

    /// <summary>
    /// The streaming kernel (bcq_stream.cu: per-plane MMAs on ±1 fragments, α and the offset after them), which serving
    /// takes at 2–32 rows (any M when asked): one, two and four token tiles of 8, a second 32-token tile on grid.y, the
    /// last channel tile partly past N, G = 128·2^s; one 16-row tile per warp on 132 emulated multiprocessors, two where
    /// one multiprocessor's persistent blocks walk every tile.
    /// </summary>
    [Theory]
    [InlineData("bf16 f16 3 128 16 64 512 1 0", "")]
    [InlineData("fp16 f32 4 128 9 40 1024 1 0", "")]
    [InlineData("bf16 f16 1 256 5 72 1024 1 0", "SIMT_SM_COUNT=1")]
    [InlineData("bf16 f32 2 128 33 48 256 1 0", "")]
    [InlineData("fp16 f16 3 512 2 136 1024 1 0", "SIMT_SM_COUNT=1")]
    [InlineData("bf16 f16 4 128 64 32 384 1 0", "")]
    public void StreamingKernelMatchesTheDequantizedMatmul(string args, string environment) => KernelEmulator.Check("lut stream " + args, environment);

    [Theory]
    [InlineData("bf16 f32 3 128 17 72 1024 1 0")]
    [InlineData("fp16 f16 4 32 64 136 512 2 0")]
    [InlineData("bf16 f16 4 64 17 136 1024 3 0")]
    [InlineData("fp16 f32 2 128 100 72 512 1 0")]   // two 64-row tiles, the second partly filled
    public void TensorCoreKernelMatchesTheDequantizedMatmul(string args) => KernelEmulator.Check("lut mma " + args);

    /// <summary>
    /// LUT-GEMM's Hopper tensor-core path (lut_gemm_sm90.cu on dequant_gemm_sm90.cuh), which serving takes on Hopper at
    /// 33–128 rows (9–32 where the streaming kernel does not run): BCQ sign planes streamed by TMA and decoded into
    /// warpgroup-MMA fragments; decode tiles with K split over a cluster, prefill tiles, K ending mid-stage. Bound: the
    /// tensor-core one.
    /// </summary>
    [Theory]
    [InlineData("bf16 f32 3 128 1 136 1024 1 0")]
    [InlineData("bf16 f32 1 128 9 136 1024 1 0")]     // one plane
    [InlineData("fp16 f16 4 128 17 264 1024 1 0")]
    [InlineData("bf16 f16 2 256 64 136 2048 1 0")]
    [InlineData("fp16 f32 3 128 100 264 512 1 0")]
    [InlineData("bf16 f32 3 128 130 264 1000 1 0")]
    public void HopperTensorCoreKernelMatchesTheDequantizedMatmul(string args) => KernelEmulator.Check("lut sm90 " + args);

    /// <summary>Prefill tiles of 256 tokens (INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256: a producer warpgroup, the
    /// consumers alone summing the tile), partly filled.</summary>
    [Fact]
    public void HopperTensorCoreKernelTakes256TokenTiles() =>
        KernelEmulator.Check("lut sm90 bf16 f16 3 128 200 264 512 1 0", "INFERENCE_DEQUANT_SM90_PREFILL_TOKENS=256");

    /// <summary>One multiprocessor emulated: no K split, so the stage barriers of the pipeline turn over.</summary>
    [Fact]
    public void HopperTensorCoreKernelRunsManyStagesThroughItsBuffers() =>
        KernelEmulator.Check("lut sm90 bf16 f32 3 128 5 136 4096 1 0", "SIMT_SM_COUNT=1");

    [Theory]
    [InlineData("bf16 f32 2 64 1 1032 200 1 0")]
    [InlineData("fp16 f16 3 128 1 520 1000 1 0")]
    [InlineData("fp32 f32 4 256 1 520 4096 1 0")]
    [InlineData("bf16 f16 1 32 1 37 100 1 0")]  // rows of 200 bytes: element stores
    public void DequantizeIsBitEqualToTheFormula(string args) => KernelEmulator.Check("lut dequant " + args);
}
