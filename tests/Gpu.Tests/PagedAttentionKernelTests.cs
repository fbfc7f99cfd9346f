using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>The native paged decode kernel against the exact gather + SDPA path on random caches and block tables.</summary>
public sealed class PagedAttentionKernelTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    [Theory]
    [InlineData(ScalarType.Float32, 4, 2, 64, null)]
    [InlineData(ScalarType.BFloat16, 32, 8, 128, null)]
    [InlineData(ScalarType.Float16, 4, 4, 16, null)]
    [InlineData(ScalarType.BFloat16, 8, 2, 128, 40)]
    public void MatchesGatherAttention(ScalarType dtype, int heads, int kvHeads, int headDim, int? window)
    {
        var device = cuda.Require();
        var kernels = NativeKernels.TryGet(out var why) ?? throw new InvalidOperationException(why);
        const int blockSize = 16, numBlocks = 64;
        using var cache = new KvCachePool(1, numBlocks, blockSize, kvHeads, headDim, dtype, device);
        manual_seed(1);
        cache.Keys(0).copy_(randn(cache.Keys(0).shape));
        cache.Values(0).copy_(randn(cache.Values(0).shape));
        var rng = new Random(5);
        var freeBlocks = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToList();
        var chunks = new List<SequenceChunk>();
        foreach (var ctx in new[] { 1, 7, 16, 17, 100, 250 })
        {
            var table = freeBlocks.Take((ctx + blockSize - 1) / blockSize).ToList();
            freeBlocks.RemoveRange(0, table.Count);
            chunks.Add(new SequenceChunk([1], ctx - 1, table));
        }
        using var batch = ForwardBatchBuilder.Build(chunks, blockSize, device, decodeMetadata: true);
        using var gatherBatch = ForwardBatchBuilder.Build(chunks, blockSize, device); // with the context slots the gather path reads
        int b = chunks.Count;
        var q = randn([b, heads, headDim], dtype, device);
        var k = randn([b, kvHeads, headDim], dtype, device);
        var v = randn([b, kvHeads, headDim], dtype, device);
        var expected = new GatherAttention(heads, kvHeads, headDim, window).Forward(0, q, k, v, gatherBatch, cache).to(ScalarType.Float32);
        var actual = new PagedCudaAttention(kernels, heads, kvHeads, headDim, window).Forward(0, q, k, v, batch, cache).to(ScalarType.Float32);
        var err = (expected - actual).abs().max().item<float>();
        double tol = dtype == ScalarType.Float32 ? 1e-4 : 2e-2;
        GpuReport.Record($"paged_attention_max_abs_error_{dtype}_{heads}x{kvHeads}x{headDim}_w{window}", err);
        Assert.True(err < tol, $"max |Δ| {err} (tolerance {tol})");
    }
}
