using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Tests.Evaluation;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>
/// Async scheduling launches each step before the previous step's tokens reach the host, feeding them to the model
/// on the device and streaming them a step later. It must change no output: a mixed workload (stops read back late,
/// limits reached, seeded sampling, penalties that force a read-back first, logprobs, aborts) gives the same streams
/// with it on and off, and every block comes back.
/// </summary>
public sealed class AsyncSchedulingTests
{
    [Fact]
    public async Task MixedWorkloadGivesTheSameOutputsWithItOnAndOff()
    {
        var requests = Workload();
        var (sync, syncStats) = await Serve(requests, asyncScheduling: false);
        var (overlapped, asyncStats) = await Serve(requests, asyncScheduling: true);

        Assert.Equal(0, syncStats.StepsLaunchedBeforeReadback);
        Assert.True(asyncStats.StepsLaunchedBeforeReadback > 0, "no step was launched before the previous one was read back");
        for (int i = 0; i < requests.Count; i++)
        {
            var (a, b) = (sync[i], overlapped[i]);
            Assert.Equal(a.Ids, b.Ids);
            Assert.Equal(a.Text, b.Text);
            Assert.Equal(a.Finish, b.Finish);
            Assert.Equal(a.Usage, b.Usage);
            Assert.Equal(a.Logprobs.Select(l => l.TokenId), b.Logprobs.Select(l => l.TokenId));
            Assert.All(a.Logprobs.Zip(b.Logprobs), p => Assert.Equal(p.First.Logprob, p.Second.Logprob, 1e-4f));
        }
        // The late-read stop path really ran: requests stopped on a string before their limit.
        Assert.Contains(sync, r => r.Finish == FinishReason.Stop && r.Usage!.CompletionTokens < 30);
    }

    private static List<GenerationRequest> Workload()
    {
        var stream = PerplexityTests.LoadReferenceStream();
        var rng = new Random(11);
        return Enumerable.Range(0, 30).Select(i =>
        {
            int[] prompt = [1, .. stream.Skip(rng.Next(0, 90000)).Take(rng.Next(2, 60))];
            var p = (i % 6) switch
            {
                0 => new SamplingParams { Temperature = 0, MaxTokens = 1 + i % 4 },                        // ends at its limit, EOS allowed
                1 => new SamplingParams { Temperature = 0, MaxTokens = 30, Stop = [".", " and"] },           // stops on a string
                2 => new SamplingParams { Temperature = 0.8f, TopK = 40, Seed = i, MaxTokens = 20 },          // seeded sampling
                3 => new SamplingParams { Temperature = 0, MaxTokens = 16, RepetitionPenalty = 1.3f },       // counts tokens on the host
                4 => new SamplingParams { Temperature = 0, MaxTokens = 12, Logprobs = 3, IgnoreEos = true },
                _ => new SamplingParams { Temperature = 0.7f, Seed = 100 + i, MaxTokens = 24, Stop = ["."] },
            };
            return new GenerationRequest($"r{i}", prompt, p);
        }).ToList();
    }

    private static async Task<(EngineTestHost.Collected[] Results, EngineStats Stats)> Serve(List<GenerationRequest> requests, bool asyncScheduling)
    {
        const int blocks = 40;   // small enough for preemptions among 30 requests
        using var engine = EngineTestHost.Start(new EngineOptions
        {
            NumKvBlocks = blocks,
            AsyncScheduling = asyncScheduling,
            Scheduler = new SchedulerOptions { MaxNumSeqs = 16, MaxNumBatchedTokens = 96 },
        });
        // An aborted request among them: its blocks must come back too.
        using var cts = new CancellationTokenSource();
        var aborted = Task.Run(async () =>
        {
            int seen = 0;
            try
            {
                await foreach (var _ in engine.Submit(new GenerationRequest("abort", [1, 349, 447], EngineTestHost.Greedy(200)), cts.Token))
                    if (++seen == 3) cts.Cancel();
            }
            catch (OperationCanceledException) { }
        });
        var results = await Task.WhenAll(requests.Select(r => EngineTestHost.Collect(engine.Submit(r, TestContext.Current.CancellationToken))))
            .WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        await aborted.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        await EngineTestHost.WaitUntil(() => engine.GetLoad().KvBlocksFree == blocks && engine.GetLoad().Running == 0, TimeSpan.FromSeconds(5));
        return (results, engine.Stats);
    }
}
