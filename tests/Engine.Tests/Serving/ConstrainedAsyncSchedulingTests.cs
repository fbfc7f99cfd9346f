using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Tests.Sampling;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>
/// Constrained requests on the real engine (tiny-llama, CPU) with async scheduling on and off, mixed with
/// unconstrained ones and under preemption: every constrained output follows its constraint and ends with EOS once
/// complete, and the outputs are the same either way (a constrained step is read back before the next launches, so
/// each mask sees the previous token).
/// </summary>
public sealed class ConstrainedAsyncSchedulingTests
{
    private const int Eos = 2;   // tiny-llama's

    [Fact]
    public async Task Constrained_outputs_follow_their_constraint_with_and_without_async_scheduling()
    {
        var requests = Requests();
        var sync = await Serve(requests, asyncScheduling: false);
        var overlapped = await Serve(requests, asyncScheduling: true);
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.Equal(sync[i].Ids, overlapped[i].Ids);
            if (requests[i].Sampling.Constraint is not PositionConstraint c) continue;
            var ids = overlapped[i].Ids;
            Assert.Equal(FinishReason.Stop, overlapped[i].Finish);
            Assert.Equal(c.Allowed.Length + 1, ids.Count);
            for (int p = 0; p < c.Allowed.Length; p++) Assert.Contains(ids[p], c.Allowed[p]);
            Assert.Equal(Eos, ids[^1]);
        }
    }

    private static List<GenerationRequest> Requests()
    {
        var random = new Random(5);
        return Enumerable.Range(0, 12).Select(i =>
        {
            int[] prompt = [1, .. Enumerable.Range(0, 6 + i).Select(_ => random.Next(100, 4000))];
            // Constrained: 20 positions, each allowing 40 random ids (never EOS); every third request is unconstrained.
            var constraint = i % 3 == 2 ? null : new PositionConstraint(Enumerable.Range(0, 20)
                .Select(_ => Enumerable.Range(0, 40).Select(_ => random.Next(3, 4096)).Distinct().ToArray()).ToArray());
            var p = new SamplingParams { Temperature = 1f, Seed = 10 + i, MaxTokens = 30, Constraint = constraint };
            return new GenerationRequest($"r{i}", prompt, p);
        }).ToList();
    }

    private static async Task<EngineTestHost.Collected[]> Serve(List<GenerationRequest> requests, bool asyncScheduling)
    {
        const int blocks = 12;   // small enough for preemptions: a preempted request's constraint replays its output
        using var engine = EngineTestHost.Start(new EngineOptions
        {
            NumKvBlocks = blocks,
            AsyncScheduling = asyncScheduling,
            Scheduler = new SchedulerOptions { MaxNumSeqs = 8, MaxNumBatchedTokens = 64 },
        });
        var results = await Task.WhenAll(requests.Select(r => EngineTestHost.Collect(engine.Submit(r, TestContext.Current.CancellationToken))))
            .WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        Assert.Equal(asyncScheduling, engine.AsyncScheduling);
        Assert.True(engine.Stats.Preemptions > 0, "the pool was meant to be small enough for preemptions");
        return results;
    }
}
