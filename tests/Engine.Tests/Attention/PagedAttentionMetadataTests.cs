using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Runner;

/// <summary>The native kernels' inputs the builder makes: paged-kernel metadata for one-token rows, the varlen layout for the rest.</summary>
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
        using var batch = ForwardBatchBuilder.Build(chunks, BlockSize, CPU, kernelMetadata: true);
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
        // The prefill chunks go to one varlen flash-attention call: their rows, query and key offsets, and (since one
        // continues a cached context) every context token's cache slot.
        var varlen = batch.Varlen ?? throw new Xunit.Sdk.XunitException("no varlen metadata");
        Assert.Equal([0L, 1, 2, 4, 5, 6, 7, 8], varlen.Rows!.data<long>().ToArray());
        Assert.Equal([0, 3, 8], varlen.CuQ.data<int>().ToArray());
        Assert.Equal([0, 3, 12], varlen.CuK.data<int>().ToArray());
        Assert.Equal((5, 9), (varlen.MaxQ, varlen.MaxK));
        Assert.Equal([0L, 1, 2, 16, 17, 18, 19, 20, 21, 22, 23, 24], varlen.KeySlots!.data<long>().ToArray());
    }

    [Fact]
    public void FreshPrefillsTakeTheirKeysFromTheStepAndAllRowsNeedNoGather()
    {
        using var batch = ForwardBatchBuilder.Build([new([1, 2], 0, [0]), new([3, 4, 5], 0, [1])], BlockSize, CPU, kernelMetadata: true);
        var varlen = batch.Varlen ?? throw new Xunit.Sdk.XunitException("no varlen metadata");
        Assert.Null(varlen.Rows);
        Assert.Null(varlen.KeySlots);
        Assert.Equal([0, 2, 5], varlen.CuK.data<int>().ToArray());
        using var portable = ForwardBatchBuilder.Build([new([1, 2], 0, [0])], BlockSize, CPU);
        Assert.Null(portable.Varlen);
    }

    [Fact]
    public void DecodeOnlyStepsUseDecodeMetadataAndPrefillOnlyStepsNeither()
    {
        using var decode = ForwardBatchBuilder.Build([new([1], 3, [0]), new([2], 5, [1, 2])], BlockSize, CPU, kernelMetadata: true);
        Assert.NotNull(decode.Decode);
        Assert.Null(decode.MixedDecode);
        using var prefill = ForwardBatchBuilder.Build([new([1, 2], 0, [0]), new([3, 4, 5], 0, [1])], BlockSize, CPU, kernelMetadata: true);
        Assert.Null(prefill.Decode);
        Assert.Null(prefill.MixedDecode);
        // Without kernelMetadata (the CPU engine), one-token rows keep their slot lists for the gather path.
        using var portable = ForwardBatchBuilder.Build([new([1], 3, [0]), new([2, 3], 0, [1])], BlockSize, CPU);
        Assert.Null(portable.MixedDecode);
        Assert.NotNull(portable.Sequences[0].ContextSlots);
    }
}
