using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Runner;

/// <summary>The paged-kernel inputs the builder makes for decode-only and mixed steps.</summary>
public sealed class ForwardBatchBuilderTests
{
    private const int BlockSize = 4;

    [Fact]
    public void MixedStepListsItsOneTokenRowsForThePagedKernel()
    {
        var chunks = new List<SequenceChunk>
        {
            new([5, 6, 7], 0, [0]),          // fresh prefill, rows 0..2
            new([8], 9, [1, 2, 3]),          // decode at position 9, row 3
            new([9, 9, 9, 9, 9], 4, [4, 5, 6]), // continued prefill, rows 4..8
            new([4], 2, [7]),                // decode at position 2, row 9
        };
        using var batch = ForwardBatchBuilder.Build(chunks, BlockSize, CPU, decodeMetadata: true);
        Assert.Null(batch.Decode);
        var mixed = batch.MixedDecode ?? throw new Xunit.Sdk.XunitException("no mixed-step metadata");
        Assert.Equal([3L, 9L], mixed.Rows.data<long>().ToArray());
        Assert.Equal([1, 3], mixed.SequenceIndices.Order());
        Assert.Equal([10, 3], mixed.Metadata.ContextLengths.data<int>().ToArray());
        // Tables padded to the widest decode row (3 blocks) with block 0.
        Assert.Equal([1, 2, 3, 7, 0, 0], mixed.Metadata.BlockTables.data<int>().ToArray());
        // One-token rows read the cache through the kernel, so no per-sequence slot list is made for them;
        // the continued prefill still gets one.
        Assert.Null(batch.Sequences[1].ContextSlots);
        Assert.Null(batch.Sequences[3].ContextSlots);
        Assert.NotNull(batch.Sequences[2].ContextSlots);
    }

    [Fact]
    public void DecodeOnlyStepsUseDecodeMetadataAndPrefillOnlyStepsNeither()
    {
        using var decode = ForwardBatchBuilder.Build([new([1], 3, [0]), new([2], 5, [1, 2])], BlockSize, CPU, decodeMetadata: true);
        Assert.NotNull(decode.Decode);
        Assert.Null(decode.MixedDecode);
        using var prefill = ForwardBatchBuilder.Build([new([1, 2], 0, [0]), new([3, 4, 5], 0, [1])], BlockSize, CPU, decodeMetadata: true);
        Assert.Null(prefill.Decode);
        Assert.Null(prefill.MixedDecode);
        // Without decodeMetadata (the CPU engine), one-token rows keep their slot lists for the gather path.
        using var portable = ForwardBatchBuilder.Build([new([1], 3, [0]), new([2, 3], 0, [1])], BlockSize, CPU);
        Assert.Null(portable.MixedDecode);
        Assert.NotNull(portable.Sequences[0].ContextSlots);
    }
}
