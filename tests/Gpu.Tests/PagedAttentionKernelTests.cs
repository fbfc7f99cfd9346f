using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static InferenceServer.Gpu.Tests.TestKernels;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// The CUDA attention paths against the exact gather + SDPA path on random caches and block tables: the native paged
/// decode kernel (GQA groups of 1 to 12 heads, context splits or none) and the varlen flash-attention prefill.
/// </summary>
public sealed class PagedAttentionKernelTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    private const int BlockSize = 16, NumBlocks = 512;

    [Theory]
    [InlineData(ScalarType.Float32, 4, 2, 64, null, 6)]
    [InlineData(ScalarType.BFloat16, 32, 8, 128, null, 6)]      // Llama-3: groups of 4, context split over blocks
    [InlineData(ScalarType.BFloat16, 32, 8, 128, null, 70)]     // enough sequences for no split
    [InlineData(ScalarType.BFloat16, 28, 4, 128, null, 6)]      // Qwen2.5-7B: groups of 7
    [InlineData(ScalarType.Float32, 24, 2, 64, null, 6)]        // groups of 12: two blocks per KV head
    [InlineData(ScalarType.Float16, 4, 4, 16, null, 6)]
    [InlineData(ScalarType.BFloat16, 8, 8, 96, null, 6)]        // head_dim not a power of two
    [InlineData(ScalarType.BFloat16, 8, 2, 128, 40, 6)]
    public void DecodeKernelMatchesGatherAttention(ScalarType dtype, int heads, int kvHeads, int headDim, int? window, int sequences)
    {
        var device = cuda.Require();
        var kernels = Kernels();
        using var cache = RandomCache(kvHeads, headDim, dtype, device);
        var rng = new Random(5);
        var contexts = sequences == 6 ? new[] { 1, 7, 16, 17, 100, 250 } : Enumerable.Range(0, sequences).Select(_ => rng.Next(1, 80)).ToArray();
        var free = Shuffled(rng);
        var chunks = contexts.Select(ctx => new SequenceChunk([1], ctx - 1, Take(free, ctx))).ToList();
        int b = chunks.Count;
        var q = randn([b, heads, headDim], dtype, device);
        var k = randn([b, kvHeads, headDim], dtype, device);
        var v = randn([b, kvHeads, headDim], dtype, device);
        AssertSame(kernels, chunks, q, k, v, cache, heads, kvHeads, headDim, window, $"paged_attention_max_abs_error_{dtype}_{heads}x{kvHeads}x{headDim}_w{window}_b{b}");
    }

    /// <summary>
    /// The decode kernel that rotates q and the step's keys and writes the cache itself, against the rotary kernel then
    /// the decode kernel on the rotated q: outputs and both caches bit-equal, qkv untouched. The step's cache rows start
    /// as NaN, so a read of them before the write shows.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.BFloat16, 32, 8, 128, null, 6)]      // Llama-3, context split over blocks
    [InlineData(ScalarType.BFloat16, 32, 8, 128, null, 70)]     // no split
    [InlineData(ScalarType.Float16, 28, 4, 128, 40, 6)]         // groups of 7, sliding window
    [InlineData(ScalarType.Float32, 24, 2, 64, null, 6)]        // groups of 12: two blocks write the same rows
    public void DecodeKernelWithRopeIsBitEqualToRotaryThenDecode(ScalarType dtype, int heads, int kvHeads, int headDim, int? window, int sequences)
    {
        var device = cuda.Require();
        var kernels = Kernels();
        using var scope = NewDisposeScope();
        using var fused = RandomCache(kvHeads, headDim, dtype, device);
        using var reference = RandomCache(kvHeads, headDim, dtype, device);
        var rng = new Random(9);
        var contexts = sequences == 6 ? new[] { 1, 7, 16, 17, 100, 250 } : Enumerable.Range(0, sequences).Select(_ => rng.Next(1, 80)).ToArray();
        var free = Shuffled(rng);
        var chunks = contexts.Select(ctx => new SequenceChunk([1], ctx - 1, Take(free, ctx))).ToList();
        using var batch = ForwardBatchBuilder.Build(chunks, BlockSize, device);
        var paged = new PagedCudaAttention(kernels, heads, kvHeads, headDim, window);
        var d = ((PagedAttentionMetadata)(batch.Attention = paged.BuildMetadata(batch))).Decode!;
        using (var nan = float.NaN.ToScalar())
            foreach (var c in new[] { fused, reference })
            {
                c.Keys(0).index_fill_(0, batch.SlotMapping, nan);
                c.Values(0).index_fill_(0, batch.SlotMapping, nan);
            }
        var inverse = tensor(RotaryEmbedding.InverseFrequencies(headDim, new RopeScaling(10000, "default")));
        var freqs = outer(Scalars.Arange(300, ScalarType.Float32, CPU), inverse);                // [300, D/2]
        var emb = cat([freqs, freqs], -1).to(device);                                          // [300, D]
        var (cos, sin) = (emb.cos(), emb.sin());
        int b = chunks.Count, width = (heads + 2 * kvHeads) * headDim;
        var qkv = randn([b, width], dtype, device);
        var rotated = qkv.clone();
        kernels.RotaryQkCache(rotated, batch.Positions, cos, sin, heads, kvHeads, headDim, reference.Keys(0), reference.Values(0), batch.SlotMapping);
        var expected = empty([b, heads, headDim], dtype, device);
        kernels.PagedDecodeAttention(expected, rotated.narrow(1, 0, heads * headDim).view(b, heads, headDim), reference.Keys(0), reference.Values(0),
            d.BlockTables, d.ContextLengths, 1 / Math.Sqrt(headDim), BlockSize, window ?? 0);
        var before = qkv.clone();
        var actual = empty([b, heads, headDim], dtype, device);
        kernels.PagedDecodeAttentionRope(actual, qkv, fused.Keys(0), fused.Values(0), d.BlockTables, d.ContextLengths, batch.Positions, cos, sin,
            batch.SlotMapping, 1 / Math.Sqrt(headDim), BlockSize, window ?? 0);
        Assert.False(expected.isnan().any().item<bool>(), "the reference path's output has NaN");
        Assert.True(actual.eq(expected).all().item<bool>(), $"outputs differ: max |Δ| {(actual.to(ScalarType.Float32) - expected.to(ScalarType.Float32)).abs().max().item<float>()}");
        Assert.True(fused.Keys(0).eq(reference.Keys(0)).all().item<bool>(), "key caches differ");
        Assert.True(fused.Values(0).eq(reference.Values(0)).all().item<bool>(), "value caches differ");
        Assert.True(qkv.eq(before).all().item<bool>(), "qkv was modified");
    }

    /// <summary>Fresh prefills, a chunk continuing a cached context, and decodes, in one step (and prefills alone).</summary>
    [Theory]
    [InlineData(ScalarType.BFloat16, 32, 8, 128, null, true)]
    [InlineData(ScalarType.BFloat16, 32, 8, 128, null, false)]
    [InlineData(ScalarType.Float16, 8, 2, 64, 16, true)]
    public void VarlenPrefillMatchesGatherAttention(ScalarType dtype, int heads, int kvHeads, int headDim, int? window, bool mixed)
    {
        var device = cuda.Require();
        var kernels = Kernels();
        using var cache = RandomCache(kvHeads, headDim, dtype, device);
        var free = Shuffled(new Random(7));
        // (start position, new tokens): cached tokens before `start` are already in the cache.
        (int Start, int New)[] layout = mixed
            ? [(0, 37), (20, 13), (50, 1), (0, 5), (90, 40), (3, 1)]
            : [(0, 37), (0, 5), (0, 128), (0, 2)];
        var chunks = layout.Select(l => new SequenceChunk(Enumerable.Repeat(1, l.New).ToList(), l.Start, Take(free, l.Start + l.New))).ToList();
        int t = layout.Sum(l => l.New);
        var q = randn([t, heads, headDim], dtype, device);
        var k = randn([t, kvHeads, headDim], dtype, device);
        var v = randn([t, kvHeads, headDim], dtype, device);
        AssertSame(kernels, chunks, q, k, v, cache, heads, kvHeads, headDim, window, $"varlen_attention_max_abs_error_{dtype}_{heads}x{kvHeads}x{headDim}_w{window}_mixed{mixed}");
    }

    private static void AssertSame(NativeKernels kernels, List<SequenceChunk> chunks, Tensor q, Tensor k, Tensor v, KvCachePool cache,
        int heads, int kvHeads, int headDim, int? window, string metric)
    {
        PoisonFreeMemory(q.device);
        var paged = new PagedCudaAttention(kernels, heads, kvHeads, headDim, window);
        var gather = new GatherAttention(heads, kvHeads, headDim, window);
        using var batch = ForwardBatchBuilder.Build(chunks, BlockSize, q.device);
        batch.Attention = paged.BuildMetadata(batch);
        using var gatherBatch = ForwardBatchBuilder.Build(chunks, BlockSize, q.device);
        gatherBatch.Attention = gather.BuildMetadata(gatherBatch); // with the context slots the gather path reads
        var expected = gather.Forward(0, q, k, v, gatherBatch, cache).to(ScalarType.Float32);
        var actual = paged.Forward(0, q, k, v, batch, cache).to(ScalarType.Float32);
        var err = (expected - actual).abs().max().item<float>();
        double tol = q.dtype == ScalarType.Float32 ? 1e-4 : 2e-2;
        GpuReport.Record(metric, err);
        Assert.True(err < tol, $"max |Δ| {err} (tolerance {tol}); NaN in the gather path's output: {expected.isnan().any().item<bool>()}, in the kernel's: {actual.isnan().any().item<bool>()}");
    }

    /// <summary>
    /// Fills the memory the caching allocator holds free with NaN, so that any buffer either path reads before writing
    /// poisons its output instead of depending on what an earlier test left there.
    /// </summary>
    private static void PoisonFreeMemory(Device device)
    {
        using var scope = NewDisposeScope();
        using var nan = float.NaN.ToScalar();
        for (int i = 0; i < 64; i++) full([1 << 17], nan, ScalarType.Float32, device); // 512 KiB each: the small-block pool
        full([64L << 20], nan, ScalarType.Float32, device);                                // 256 MiB: the large-block pool
    }

    private static KvCachePool RandomCache(int kvHeads, int headDim, ScalarType dtype, Device device)
    {
        var cache = new KvCachePool(1, NumBlocks, BlockSize, kvHeads, headDim, dtype, device);
        manual_seed(1);
        cache.Keys(0).copy_(randn(cache.Keys(0).shape));
        cache.Values(0).copy_(randn(cache.Values(0).shape));
        return cache;
    }

    private static List<int> Shuffled(Random rng) => Enumerable.Range(0, NumBlocks).OrderBy(_ => rng.Next()).ToList();

    /// <summary>A block table for <paramref name="tokens"/> tokens, taken from the free list.</summary>
    private static List<int> Take(List<int> free, int tokens)
    {
        var table = free.Take((tokens + BlockSize - 1) / BlockSize).ToList();
        free.RemoveRange(0, table.Count);
        return table;
    }
}
