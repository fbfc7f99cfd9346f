using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Attention;

/// <summary>What the portable gather backend builds from a neutral batch.</summary>
public sealed class GatherAttentionMetadataTests
{
    private const int BlockSize = 4;

    [Fact]
    public void EverySequenceWithCachedTokensGetsItsSlotList()
    {
        // The CPU engine: one-token rows keep their slot lists, fresh prefills read the step's own keys.
        using var batch = ForwardBatchBuilder.Build([new([1], 3, [0]), new([2, 3], 0, [1]), new([4, 5], 5, [2, 3])], BlockSize, CPU);
        var m = (GatherAttentionMetadata)new GatherAttention(2, 2, 8, null).BuildMetadata(batch);
        batch.Attention = m;
        Assert.Equal([0L, 1, 2, 3], m.ContextSlots[0]!.data<long>().ToArray());
        Assert.Null(m.ContextSlots[1]);
        Assert.Equal([8L, 9, 10, 11, 12, 13, 14], m.ContextSlots[2]!.data<long>().ToArray());
        Assert.Null(m.Prefill);    // one fresh prefill: nothing to batch
    }

    [Fact]
    public void TwoFreshPrefillsOnTheCpuArePaddedIntoOneBlock()
    {
        using var batch = ForwardBatchBuilder.Build([new([1, 2], 0, [0]), new([1], 7, [1, 2]), new([3, 4, 5], 0, [3])], BlockSize, CPU);
        var m = (GatherAttentionMetadata)new GatherAttention(2, 2, 8, slidingWindow: 2).BuildMetadata(batch);
        batch.Attention = m;
        var p = m.Prefill ?? throw new Xunit.Sdk.XunitException("no batched-prefill layout");
        Assert.Equal((2, 3), (p.Sequences, p.Length));
        Assert.False(p.AllRows);
        Assert.Equal([0, 2], p.FreshSequenceIndices.Order());
        Assert.Equal([0L, 1, 3, 4, 5], p.FreshRows.data<long>().ToArray());
        Assert.Equal([0L, 1, 1, 3, 4, 5], p.RowIndex.data<long>().ToArray());
        Assert.Equal([0L, 1, 3, 4, 5], p.ValidSlots.data<long>().ToArray());
        // Sequence 2, query 2 sees keys 1 and 2 only: the window of 2 from the backend folds into the mask.
        Assert.Equal([false, true, true], p.Mask[1, 0, 2].clone().data<bool>().ToArray());
    }
}
