using InferenceServer.Engine.Models;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.Engine.Tokenization;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>The serving engine on CUDA (paged kernel, CUDA-graph decode): concurrent greedy requests equal transformers.</summary>
public sealed class CudaEngineTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    /// <param name="maxBatchedTokens">null: the default budget (all prompts prefill together, then pure decode steps);
    /// 16: prompts are chunked and share steps with other requests' decodes, which take the paged kernel in those
    /// mixed steps.</param>
    [Theory]
    [InlineData(null)]
    [InlineData(16)]
    public async Task ConcurrentGreedyRequestsMatchReferenceWithGraphs(int? maxBatchedTokens)
    {
        var device = cuda.Require();
        var reference = ReferenceFile.Load(Path.Combine(RepoPaths.TinyLlama, "reference.json"));
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = device, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var log = new List<string>();
        using var engine = new LlmEngine(model, tokenizer, config, new EngineOptions
        {
            NumKvBlocks = 256,
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
        GpuReport.Record($"cuda_engine_graph_log_{maxBatchedTokens}", string.Join(" | ", log));
    }
}
