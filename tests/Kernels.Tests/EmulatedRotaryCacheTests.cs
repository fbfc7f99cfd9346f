namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The rotary embedding fused with the paged KV-cache write (fused_ops.cu) run by the emulator against HF's "rotate half"
/// in double (emulator/check_rotary.cpp): q and k heads rotated in place within the float rounding bound, the rotated
/// keys and the values copied exactly to shuffled cache slots, nothing else in qkv or the caches touched. The vector
/// kernel (head size a multiple of 16, rows 16-byte aligned) and the scalar one (an odd row pad, or head size 72);
/// grouped-query heads. Arguments: dtype, tokens, heads, KV heads, head size, row pad.
/// </summary>
public sealed class EmulatedRotaryCacheTests
{
    [Theory]
    [InlineData("bf16 5 8 2 128 8")]
    [InlineData("fp16 3 4 4 64 0")]
    [InlineData("fp32 4 6 2 128 8")]
    [InlineData("bf16 3 4 1 128 3")]
    [InlineData("fp16 2 3 1 72 0")]
    public void RotatesAndFillsTheCacheAsTransformers(string args) => KernelEmulator.Check("rotary " + args);
}
