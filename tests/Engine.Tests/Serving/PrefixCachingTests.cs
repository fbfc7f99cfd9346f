using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Tests.Evaluation;
using InferenceServer.Engine.Tests.Models;
using InferenceServer.Engine.Tests.Support;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>Prefix-cache hits must really happen and must not change a single greedy token.</summary>
public sealed class PrefixCachingTests(TinyLlamaFixture f) : IClassFixture<TinyLlamaFixture>
{
    [Fact]
    public async Task RepeatedPromptHitsTheCacheAndGivesTheSameTokens()
    {
        var stream = PerplexityTests.LoadReferenceStream();
        int[] prompt = [1, .. stream.Skip(100).Take(70)];                        // 71 tokens: 4 full blocks
        using var engine = EngineTestHost.Start(new EngineOptions { NumKvBlocks = 64 });
        var first = await Run(engine, "a", prompt);
        var second = await Run(engine, "b", prompt);
        Assert.Equal(0, first.Usage.CachedPromptTokens);
        Assert.Equal(64, second.Usage.CachedPromptTokens);                        // 4 blocks × 16
        Assert.Equal(first.Ids, second.Ids);
        Assert.Equal(ModelTestRunner.Greedy(f.Model, prompt, 10), second.Ids);
        Assert.Equal((71L * 2, 64L), engine.PrefixCacheCounters);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConcurrentSharedPrefixesWithPreemptionEqualServedAlone(bool asyncScheduling)
    {
        var stream = PerplexityTests.LoadReferenceStream();
        int[] system = [1, .. stream.Skip(500).Take(47)];                         // a shared 48-token "system prompt"
        var rng = new Random(3);
        var prompts = Enumerable.Range(0, 48).Select(i =>
            (int[])[.. system, .. stream.Skip(rng.Next(1000, 90000)).Take(rng.Next(1, 40))]).ToList();
        var alone = prompts.Select(p => ModelTestRunner.Greedy(f.Model, p, 8)).ToList();
        using var engine = EngineTestHost.Start(new EngineOptions
        {
            NumKvBlocks = 48,
            AsyncScheduling = asyncScheduling,
            Scheduler = new SchedulerOptions { MaxNumSeqs = 48, MaxNumBatchedTokens = 96 },
        });
        // The first request warms the cache; the rest arrive together.
        await Run(engine, "warm", prompts[0], 8);
        var results = await Task.WhenAll(prompts.Select((p, i) => Run(engine, $"r{i}", p, 8)))
            .WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        for (int i = 0; i < prompts.Count; i++) Assert.Equal(alone[i], results[i].Ids);
        Assert.True(engine.PrefixCacheCounters.Hits >= 47 * 32, $"hits {engine.PrefixCacheCounters.Hits}");
        Assert.True(engine.Stats.Preemptions > 0, "the 48-block pool should have forced preemptions");
        await EngineTestHost.WaitUntil(() => engine.GetLoad().KvBlocksFree == 48, TimeSpan.FromSeconds(5));
    }

    private static async Task<(List<int> Ids, GenerationUsage Usage)> Run(LlmEngine engine, string id, int[] prompt, int n = 10)
    {
        var r = await EngineTestHost.Collect(engine.Submit(new GenerationRequest(id, prompt, EngineTestHost.Greedy(n)), TestContext.Current.CancellationToken));
        return (r.Ids, r.Usage!);
    }
}
