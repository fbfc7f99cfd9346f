using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.Tokenization;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>The serving engine on CUDA (paged kernel, CUDA-graph decode): concurrent greedy requests equal transformers.</summary>
public sealed class CudaEngineTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    /// <param name="maxBatchedTokens">null: the default budget (all prompts prefill together, then pure decode steps);
    /// 16: prompts are chunked and share steps with other requests' decodes, which take the paged kernel in those
    /// mixed steps.</param>
    /// <param name="asyncScheduling">Whether steps launch before the previous step's tokens are read back.</param>
    [Theory]
    [InlineData(null, true)]
    [InlineData(16, true)]
    [InlineData(null, false)]
    [InlineData(16, false)]
    public async Task ConcurrentGreedyRequestsMatchReferenceWithGraphs(int? maxBatchedTokens, bool asyncScheduling)
    {
        var device = cuda.Require();
        var reference = ReferenceFile.Load(Path.Combine(RepoPaths.TinyLlama, "reference.json"));
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = device, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var log = new List<string>();
        using var engine = new LlmEngine(model, tokenizer, config, new EngineOptions
        {
            NumKvBlocks = 256,
            AsyncScheduling = asyncScheduling,
            Scheduler = maxBatchedTokens is int m ? new SchedulerOptions { MaxNumBatchedTokens = m } : new SchedulerOptions(),
        }, s => { lock (log) log.Add(s); });
        engine.Start();
        // Each prompt 4 times, all at once: batches of up to 24 decodes replayed from graphs.
        var runs = Enumerable.Range(0, 24).Select(async i =>
        {
            var p = reference.Prompts[i % reference.Prompts.Length];
            var ids = new List<int>();
            await foreach (var o in engine.Submit(new GenerationRequest($"r{i}", p.Ids, new SamplingParams { Temperature = 0, MaxTokens = 24, IgnoreEos = true }), TestContext.Current.CancellationToken))
                ids.AddRange(o.TokenIds);
            return (p, ids);
        }).ToList();
        var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        Assert.Contains(log, l => l.Contains("captured CUDA graphs"));
        foreach (var (p, ids) in results) Assert.Equal(p.GreedyIds, ids);
        Assert.Equal(asyncScheduling, engine.AsyncScheduling);
        Assert.Equal(asyncScheduling, engine.Stats.StepsLaunchedBeforeReadback > 0);
        GpuReport.Record($"cuda_engine_graph_log_{maxBatchedTokens}_{asyncScheduling}", string.Join(" | ", log));
    }

    /// <summary>Without --num-kv-blocks the pool is sized from a profiling forward pass and the memory the utilisation allows.</summary>
    [Fact]
    public async Task KvPoolIsSizedFromAProfilingPass()
    {
        var device = cuda.Require();
        var reference = ReferenceFile.Load(Path.Combine(RepoPaths.TinyLlama, "reference.json"));
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = device, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        model.Kernels!.EmptyCache(); // earlier tests' cached blocks would otherwise count as in use here but not there
        var (free, total) = model.Kernels.MemGetInfo();
        // A utilisation that leaves room for the other tests: what is in use now plus 2 GiB.
        double utilization = Math.Min(0.95, (total - free + (2L << 30)) / (double)total);
        var log = new List<string>();
        using var engine = new LlmEngine(model, tokenizer, config, new EngineOptions { GpuMemoryUtilization = utilization }, s => { lock (log) log.Add(s); });
        Assert.DoesNotContain(log, l => l.StartsWith("memory profile:"));   // sizing is a start-up step, not construction
        engine.Start();
        Assert.Contains(log, l => l.StartsWith("memory profile:"));
        long blocks = engine.GetLoad().KvBlocksTotal;
        long perBlock = InferenceServer.Engine.KvCache.KvCachePool.BytesPerBlock(model.Config.NumLayers, 16, model.Config.NumKvHeads, model.Config.HeadDim, ScalarType.Float32);
        Assert.InRange(blocks * perBlock, 1L << 29, 2L << 30); // the 2 GiB allowed, less activations and the 0.5 GiB graph margin
        var p = reference.Prompts[0];
        var ids = new List<int>();
        await foreach (var o in engine.Submit(new GenerationRequest("sized", p.Ids, new SamplingParams { Temperature = 0, MaxTokens = 8, IgnoreEos = true }), TestContext.Current.CancellationToken))
            ids.AddRange(o.TokenIds);
        Assert.Equal(p.GreedyIds.Take(8), ids);
        Assert.True(engine.AsyncScheduling, "async scheduling is the default with the native kernels");
        GpuReport.Record("kv_pool_profile_log", string.Join(" | ", log.Where(l => l.StartsWith("memory profile") || l.StartsWith("KV cache"))));
    }
}
