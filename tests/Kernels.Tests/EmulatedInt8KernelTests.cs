namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The W8A8 (SmoothQuant) kernels run by the emulator against the exact int32 sums, scaled per token and channel: the
/// mma.sync ones (int8_gemm.cu: cp.async stages and ldmatrix; skinny_gemm.cu: weights streamed for up to 64 rows) and
/// the Hopper ones (int8_gemm_sm90.cu: 128-row tiles on warpgroup MMAs with both operands in shared memory;
/// skinny_gemm_sm90.cu: up to 128 rows, K split over a cluster). All of them pass their tests on H100 and H200 GPUs,
/// so the Hopper ones also check the emulator's model of TMA copies, the 128-byte swizzle and shared-memory
/// descriptors, which the group-wise and LUT-GEMM Hopper kernels share. Arguments: output dtype, M, N, K.
/// </summary>
public sealed class EmulatedInt8KernelTests
{
    [Theory]
    [InlineData("bf16 130 300 256")]
    [InlineData("fp32 200 264 1008")]   // K ends mid-stage
    public void TiledKernelMatchesTheIntegerReference(string args) => KernelEmulator.Check("int8 tiled " + args);

    [Theory]
    [InlineData("fp16 1 1032 512")]
    [InlineData("fp32 17 264 4096")]
    [InlineData("bf16 64 136 1024")]
    public void SkinnyKernelMatchesTheIntegerReference(string args) => KernelEmulator.Check("int8 skinny " + args);

    [Theory]
    [InlineData("fp32 130 300 256")]    // two row tiles, the second nearly empty; a partial column tile
    [InlineData("bf16 300 520 1008")]   // K ends mid-slice
    [InlineData("fp16 64 264 512")]
    public void HopperTilesMatchTheIntegerReference(string args) => KernelEmulator.Check("int8 sm90 " + args);

    [Theory]
    [InlineData("fp16 8 136 256")]
    [InlineData("bf16 17 300 512")]
    [InlineData("fp32 100 264 1024")]
    public void HopperSkinnyKernelMatchesTheIntegerReference(string args) => KernelEmulator.Check("int8 sm90-skinny " + args);

    /// <summary>One multiprocessor emulated: no K split, so the stage barriers of the pipeline turn over.</summary>
    [Fact]
    public void HopperSkinnyKernelRunsManyStagesThroughItsBuffers() => KernelEmulator.Check("int8 sm90-skinny bf16 17 136 2048", "SIMT_SM_COUNT=1");
}
