namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The bf16/fp16 skinny GEMM of skinny_gemm.cu (decode steps of unquantized layers: weights streamed once, K split
/// over a block's warps) run by the emulator against the double-precision product. Arguments: dtype, M, N, K.
/// </summary>
public sealed class EmulatedSkinnyGemmTests
{
    [Theory]
    [InlineData("bf16 1 136 4096")]
    [InlineData("fp16 33 264 1024")]
    [InlineData("bf16 64 72 512")]
    public void MatchesTheDoublePrecisionProduct(string args) => KernelEmulator.Check("dense skinny " + args);
}
