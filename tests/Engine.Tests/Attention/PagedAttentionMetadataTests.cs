using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Attention;

/// <summary>
/// The native kernels' inputs the CUDA backend builds from a neutral batch: paged-kernel metadata for one-token rows,
/// the varlen layout for the rest (built on the CPU here: only the layout is checked, no kernel runs).
/// </summary>
public sealed class PagedAttentionMetadataTests
{
    private const int BlockSize = 4;

    private static PagedAttentionMetadata Paged(ForwardBatch batch)
    {
        var m = PagedAttentionMetadata.Build(batch, slidingWindow: null);
        batch.Attention = m;    // disposed with the batch
        return m;
    }

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
        using var batch = ForwardBatchBuilder.Build(chunks, BlockSize, CPU);
        var m = Paged(batch);
        Assert.Null(m.Decode);
        var mixed = m.MixedDecode ?? throw new Xunit.Sdk.XunitException("no mixed-step metadata");
        Assert.Equal([3L, 9L], mixed.Rows.data<long>().ToArray());
        Assert.Equal([1, 3], mixed.SequenceIndices.Order());
        Assert.Equal([10, 3], mixed.Metadata.ContextLengths.data<int>().ToArray());
        // Tables padded to the widest decode row (3 blocks) with block 0.
        Assert.Equal([1, 2, 3, 7, 0, 0], mixed.Metadata.BlockTables.data<int>().ToArray());
        // One-token rows read the cache through the kernel, so no per-sequence slot list is made for them;
        // the continued prefill still gets one (for the float32 gather path).
        var gather = m.Gather ?? throw new Xunit.Sdk.XunitException("no gather metadata");
        Assert.Null(gather.ContextSlots[1]);
        Assert.Null(gather.ContextSlots[3]);
        Assert.Null(gather.ContextSlots[0]);
        Assert.Equal(Enumerable.Range(0, 9).Select(p => (long)ForwardBatchBuilder.Slot([4, 5, 6], BlockSize, p)),
            gather.ContextSlots[2]!.data<long>().ToArray());
        // The prefill chunks go to one varlen flash-attention call: their rows, query and key offsets, and (since one
        // continues a cached context) every context token's cache slot.
        var varlen = m.Varlen ?? throw new Xunit.Sdk.XunitException("no varlen metadata");
        Assert.Equal([0L, 1, 2, 4, 5, 6, 7, 8], varlen.Rows!.data<long>().ToArray());
        Assert.Equal([0, 3, 8], varlen.CuQ.data<int>().ToArray());
        Assert.Equal([0, 3, 12], varlen.CuK.data<int>().ToArray());
        Assert.Equal((5, 9), (varlen.MaxQ, varlen.MaxK));
        Assert.Equal([0L, 1, 2, 16, 17, 18, 19, 20, 21, 22, 23, 24], varlen.KeySlots!.data<long>().ToArray());
    }

    [Fact]
    public void FreshPrefillsTakeTheirKeysFromTheStepAndAllRowsNeedNoGather()
    {
        using var batch = ForwardBatchBuilder.Build([new([1, 2], 0, [0]), new([3, 4, 5], 0, [1])], BlockSize, CPU);
        var varlen = Paged(batch).Varlen ?? throw new Xunit.Sdk.XunitException("no varlen metadata");
        Assert.Null(varlen.Rows);
        Assert.Null(varlen.KeySlots);
        Assert.Equal([0, 2, 5], varlen.CuK.data<int>().ToArray());
    }

    [Fact]
    public void DecodeOnlyStepsUseDecodeMetadataAndPrefillOnlyStepsNeither()
    {
        using var decode = ForwardBatchBuilder.Build([new([1], 3, [0]), new([2], 5, [1, 2])], BlockSize, CPU);
        var d = Paged(decode);
        var tables = d.Decode ?? throw new Xunit.Sdk.XunitException("no decode metadata");
        Assert.Equal([0, 0, 1, 2], tables.BlockTables.data<int>().ToArray());
        Assert.Equal([4, 6], tables.ContextLengths.data<int>().ToArray());
        Assert.Null(d.MixedDecode);
        Assert.Null(d.Varlen);
        Assert.Null(d.Gather);
        using var prefill = ForwardBatchBuilder.Build([new([1, 2], 0, [0]), new([3, 4, 5], 0, [1])], BlockSize, CPU);
        var p = Paged(prefill);
        Assert.Null(p.Decode);
        Assert.Null(p.MixedDecode);
    }

    [Fact]
    public void GraphDecodeMetadataLeavesTheCallersTensorsAlone()
    {
        using var tables = zeros([2, 3], ScalarType.Int32);
        using var lens = ones(2, ScalarType.Int32);
        var m = PagedAttentionMetadata.ForDecode(tables, lens);
        Assert.Same(tables, m.Decode!.BlockTables);
        m.Dispose();
        Assert.Equal(2L, lens.sum().item<long>());   // still alive
        Assert.Equal(0L, tables.sum().item<long>());
    }
}
