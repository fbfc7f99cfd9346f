using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Tests.Models;
using InferenceServer.Engine.Tests.Support;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>
/// Many concurrent requests through the real engine must give each request exactly the greedy tokens it gets
/// when served alone, also when the KV pool is so small that sequences are preempted and recomputed.
/// </summary>
public sealed class ContinuousBatchingTests(TinyLlamaFixture f) : IClassFixture<TinyLlamaFixture>
{
    private static List<int[]> MixedPrompts(int count)
    {
        var reference = ReferenceFile.Load(Path.Combine(InferenceServer.TestSupport.RepoPaths.TinyLlama, "reference.json"));
        var stream = Evaluation.PerplexityTests.LoadReferenceStream();
        var rng = new Random(7);
        var prompts = new List<int[]>();
        for (int i = 0; i < count; i++)
        {
            if (i < reference.Prompts.Length) { prompts.Add(reference.Prompts[i].Ids); continue; }
            int len = rng.Next(3, 120), start = rng.Next(0, stream.Count - len);
            prompts.Add([1, .. stream.Skip(start).Take(len)]);
        }
        return prompts;
    }

    [Theory]
    [InlineData(4096, 512, false, false)]   // roomy pool, big token budget
    [InlineData(40, 64, true, false)]       // 640 cache tokens for 64 requests: preemption must happen; chunked prefill
    [InlineData(4096, 512, false, true)]    // the same with each step launched before the previous one is read back
    [InlineData(40, 64, true, true)]
    public async Task ConcurrentGreedyEqualsServedAlone(int kvBlocks, int tokenBudget, bool expectPreemption, bool asyncScheduling)
    {
        const int requests = 64, newTokens = 12;
        var prompts = MixedPrompts(requests);
        var alone = prompts.Select(p => ModelTestRunner.Greedy(f.Model, p, newTokens)).ToList();

        using var engine = EngineTestHost.Start(new EngineOptions
        {
            NumKvBlocks = kvBlocks,
            AsyncScheduling = asyncScheduling,
            Scheduler = new SchedulerOptions { MaxNumSeqs = 64, MaxNumBatchedTokens = tokenBudget },
        });
        var runs = prompts.Select((p, i) => EngineTestHost.Collect(engine.Submit(
            new GenerationRequest($"r{i}", p, EngineTestHost.Greedy(newTokens)), TestContext.Current.CancellationToken))).ToList();
        var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(alone[i], results[i].Ids);
            Assert.Equal(FinishReason.Length, results[i].Finish);
        }
        if (expectPreemption) Assert.True(engine.Stats.Preemptions > 0, "the small pool should have forced preemptions");
        else Assert.Equal(0, engine.Stats.Preemptions);
        await EngineTestHost.WaitUntil(() => engine.GetLoad().KvBlocksFree == kvBlocks, TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AbortReturnsBlocksToThePool(bool asyncScheduling)
    {
        using var engine = EngineTestHost.Start(new EngineOptions { NumKvBlocks = 64, AsyncScheduling = asyncScheduling });
        await EngineTestHost.WaitUntil(() => engine.IsReady, TimeSpan.FromSeconds(30));
        int free = engine.GetLoad().KvBlocksFree;
        using var cts = new CancellationTokenSource();
        var stream = engine.Submit(new GenerationRequest("long", [1, 349, 447], EngineTestHost.Greedy(500)), cts.Token);
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var o in stream)
            {
                if (++seen == 5) cts.Cancel();
            }
        });
        Assert.True(seen >= 5);
        await EngineTestHost.WaitUntil(() => engine.GetLoad().KvBlocksFree == free && engine.GetLoad().Running == 0, TimeSpan.FromSeconds(5));
    }
}
