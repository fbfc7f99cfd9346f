using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
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
        using var batch = ForwardBatchBuilder.Build(chunks, blockSize, CPU);
        var attention = new GatherAttention(heads, kvHeads, headDim, window);
        var metadata = (GatherAttentionMetadata)attention.BuildMetadata(batch);
        batch.Attention = metadata;     // disposed with the batch
        Assert.NotNull(metadata.Prefill);
        Assert.Equal(!mixed, metadata.Prefill!.AllRows);
        int t = batch.NumTokens;
        var q = randn(t, heads, headDim);
        var k = randn(t, kvHeads, headDim);
        var v = randn(t, kvHeads, headDim);
        var fast = attention.Forward(0, q, k, v, batch, cache);
        // The same slot lists without the layout: every sequence attends in its own SDPA call.
        batch.Attention = metadata with { Prefill = null };
        var reference = attention.Forward(0, q, k, v, batch, cache);
        batch.Attention = metadata;
        Assert.True((fast - reference).abs().max().item<float>() < 1e-5f);
    }
}
