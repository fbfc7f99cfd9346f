namespace InferenceServer.Kernels.Tests;

/// <summary>
/// Paged decode attention (paged_attention.cu) run by the emulator against softmax(scale·q·kᵀ)·v in double, the
/// sequences' blocks scattered over a shuffled pool: grouped-query heads (1 to 8 query heads per KV head, 28 in 4 sub-
/// groups), head sizes 64-256, a sliding window, the context split over blocks (the launcher's choice for 132 SMs) or
/// not, and many short sequences. Arguments: dtype, batch, heads, KV heads, head dim, block size, longest context,
/// window (0: none), splits (0: the launcher's choice).
/// </summary>
public sealed class EmulatedPagedAttentionTests
{
    [Theory]
    [InlineData("bf16 3 8 8 128 16 300 0 0")]
    [InlineData("fp16 2 16 4 128 16 400 0 0")]
    [InlineData("bf16 2 28 4 128 32 200 64 0")]
    [InlineData("fp32 2 8 2 64 16 130 0 1")]
    [InlineData("fp16 40 4 4 64 16 40 0 0")]
    [InlineData("bf16 1 8 1 256 16 200 0 0")]
    public void MatchesTheDoublePrecisionSoftmax(string args) => KernelEmulator.Check("attention " + args);

    /// <summary>
    /// The kernel's fused variants bit for bit against the rotary kernel, then the kernel on the rotated q with the
    /// workspace and the combine kernel (outputs, whole caches, qkv untouched): given the step's unrotated qkv rows
    /// (PagedRope: rotary embedding and cache write inside the launch), and with the splits merged in a thread-block
    /// cluster. Arguments after the window and splits: padding after each qkv row, rope (0/1), cluster (0/1).
    /// </summary>
    [Theory]
    [InlineData("bf16 3 8 8 128 16 300 0 0 0 1 0")]
    [InlineData("fp16 2 16 4 128 16 400 0 0 8 1 0")]
    [InlineData("bf16 2 28 4 128 32 200 64 0 0 1 0")]
    [InlineData("fp32 3 24 2 64 16 90 0 0 0 1 0")]
    [InlineData("fp16 40 4 4 64 16 40 0 0 0 1 0")]
    [InlineData("bf16 3 8 8 128 16 300 0 0 0 0 1")]
    [InlineData("bf16 2 32 8 128 16 500 0 8 0 1 1")]
    [InlineData("fp32 3 24 2 64 16 90 0 3 0 0 1")]
    [InlineData("fp16 2 28 4 128 32 200 64 0 8 1 1")]
    [InlineData("bf16 1 32 8 128 16 1100 0 16 0 1 1")]  // a cluster of 16 blocks
    public void FusedVariantsAreBitEqualToRotaryThenAttention(string args) => KernelEmulator.Check("attention-fused " + args);
}
