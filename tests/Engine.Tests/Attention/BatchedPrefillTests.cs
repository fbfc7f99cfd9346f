using InferenceServer.Engine.Attention;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Attention;

/// <summary>Fresh prefills padded into one SDPA call (the CPU path) give the same attention as one call per sequence.</summary>
public sealed class BatchedPrefillTests
{
    [Theory]
    [InlineData(4, 2, null, false)]
    [InlineData(4, 4, 5, false)]
    [InlineData(4, 2, null, true)]    // mixed with a decode and a chunk that continues a cached prefix
    public void MatchesPerSequenceAttention(int heads, int kvHeads, int? window, bool mixed)
    {
        const int headDim = 8, blockSize = 4;
        manual_seed(3);
        using var cache = new KvCachePool(1, 64, blockSize, kvHeads, headDim, ScalarType.Float32, CPU);
        cache.Keys(0).copy_(randn(cache.Keys(0).shape));
        cache.Values(0).copy_(randn(cache.Values(0).shape));
        var chunks = new List<SequenceChunk>
        {
            new(Enumerable.Repeat(1, 7).ToArray(), 0, [0, 1]),
            new(Enumerable.Repeat(1, 3).ToArray(), 0, [2]),
            new(Enumerable.Repeat(1, 12).ToArray(), 0, [3, 4, 5]),
        };
        if (mixed)
        {
            chunks.Insert(1, new SequenceChunk([1], 9, [6, 7, 8]));
            chunks.Add(new SequenceChunk(Enumerable.Repeat(1, 5).ToArray(), 4, [9, 10, 11]));
        }
        using var batched = ForwardBatchBuilder.Build(chunks, blockSize, CPU, slidingWindow: window);
        using var single = ForwardBatchBuilder.Build(chunks, blockSize, CPU);
        Assert.NotNull(batched.Prefill);
        Assert.Equal(!mixed, batched.Prefill!.AllRows);
        int t = batched.NumTokens;
        var q = randn(t, heads, headDim);
        var k = randn(t, kvHeads, headDim);
        var v = randn(t, kvHeads, headDim);
        var attention = new GatherAttention(heads, kvHeads, headDim, window);
        var fast = attention.Forward(0, q, k, v, batched, cache);
        var reference = attention.Forward(0, q, k, v, WithoutLayout(single), cache);
        Assert.True((fast - reference).abs().max().item<float>() < 1e-5f);
    }

    private static ForwardBatch WithoutLayout(ForwardBatch b) => new()
    {
        TokenIds = b.TokenIds, Positions = b.Positions, SlotMapping = b.SlotMapping, Sequences = b.Sequences, LogitsRows = b.LogitsRows,
    };
}
