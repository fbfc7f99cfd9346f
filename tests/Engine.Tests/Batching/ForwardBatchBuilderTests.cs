using InferenceServer.Engine.Batching;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Batching;

/// <summary>The backend-neutral batch: flattened ids, positions, cache slots, logits rows and host-side spans.</summary>
public sealed class ForwardBatchBuilderTests
{
    private const int BlockSize = 4;

    [Fact]
    public void FlattensChunksIntoRowsAndSpans()
    {
        int[] table = [7, 2];
        using var batch = ForwardBatchBuilder.Build([new([5, 6, 7], 0, [0]), new([8], 5, table), new([1, 2], 1, [3], AllLogits: true)], BlockSize, CPU);
        Assert.Equal(6, batch.NumTokens);
        Assert.Equal([5L, 6, 7, 8, 1, 2], batch.TokenIds.data<long>().ToArray());
        Assert.Equal([0L, 1, 2, 5, 1, 2], batch.Positions.data<long>().ToArray());
        Assert.Equal([0L, 1, 2, 9, 13, 14], batch.SlotMapping.data<long>().ToArray());
        Assert.Equal([2L, 3, 4, 5], batch.LogitsRows.data<long>().ToArray());
        Assert.Equal([(0, 3, 3, 0), (3, 1, 6, 5), (4, 2, 3, 1)],
            batch.Sequences.Select(s => (s.QueryStart, s.QueryLength, s.ContextLength, s.StartPosition)));
        Assert.Same(table, batch.Sequences[1].BlockTable);
        Assert.Equal((BlockSize, DeviceType.CPU), (batch.BlockSize, batch.Device.type));
        Assert.Null(batch.Attention);   // the model's backend builds it
    }

    [Fact]
    public void RejectsEmptyChunksAndShortBlockTables()
    {
        Assert.Throws<ArgumentException>(() => ForwardBatchBuilder.Build([new([], 0, [0])], BlockSize, CPU));
        Assert.Throws<ArgumentException>(() => ForwardBatchBuilder.Build([new([1, 2], 3, [0])], BlockSize, CPU));
    }
}
