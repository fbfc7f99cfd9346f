using InferenceServer.Engine.Sampling;
using TorchSharp;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>
/// Greedy, deterministic-sampled (top_k = 1) and seeded rows give the same tokens and logprobs in a mixed batch
/// as each row sampled alone, over several decode steps (penalties see the growing outputs).
/// </summary>
public class MixedBatchTests
{
    private const int Vocab = 4096;
    private const int Steps = 4;

    private static readonly SamplingParams[] Mix =
    [
        SamplingParams.Greedy with { RepetitionPenalty = 1.3f },
        new SamplingParams { Seed = 7, Temperature = 0.8f, TopP = 0.9f },
        new SamplingParams { Temperature = 1.3f, TopK = 1, Logprobs = 2 },
        new SamplingParams { Seed = 8, MinP = 0.1f, FrequencyPenalty = 0.5f, PresencePenalty = 0.3f },
        SamplingParams.Greedy with { Logprobs = 3, LogitBias = new Dictionary<int, float> { [17] = 5f } },
        new SamplingParams { Seed = 9, TopK = 50, Temperature = 1.1f, Logprobs = 0, MinTokens = 2 },
        new SamplingParams { Seed = 10, Temperature = 0.01f },
    ];

    [Fact]
    public void EachRowMatchesTheRowAlone()
    {
        var batched = Run(alone: false);
        var alone = Run(alone: true);
        for (var row = 0; row < Mix.Length; row++)
        {
            for (var step = 0; step < Steps; step++)
            {
                var b = batched[row][step];
                var a = alone[row][step];
                Assert.Equal(a.TokenId, b.TokenId);
                Assert.Equal(a.Rank, b.Rank);
                Assert.Equal(a.Logprob.HasValue, b.Logprob.HasValue);
                if (a.Logprob is float lp)
                    Assert.Equal(lp, b.Logprob!.Value, 1e-5);
                Assert.Equal(a.TopLogprobs.Select(t => t.TokenId), b.TopLogprobs.Select(t => t.TokenId));
            }
        }
    }

    /// <summary>Per row, per step outputs; each row has its own logits and prompt.</summary>
    private static SampleOutput[][] Run(bool alone)
    {
        using var sampler = new Sampler([0], sharedSeed: alone ? 1 : 2);
        var states = Mix.Select(SequenceRandomState.For).ToArray();
        var outputs = Mix.Select(_ => new List<int>()).ToArray();
        var results = Mix.Select(_ => new SampleOutput[Steps]).ToArray();
        for (var step = 0; step < Steps; step++)
        {
            using var logits = RandomLogits(Mix.Length, Vocab, seed: 500 + step, scale: 2f);
            var rows = Mix.Select((p, i) => new SequenceSamplingInput(p, [i, i + 1, 17], outputs[i].ToArray(), states[i])).ToArray();
            var stepOutputs = alone
                ? rows.Select((r, i) =>
                {
                    using var one = logits[i].unsqueeze(0);
                    return sampler.Sample(one, [r])[0];
                }).ToArray()
                : sampler.Sample(logits, rows);
            for (var i = 0; i < Mix.Length; i++)
            {
                results[i][step] = stepOutputs[i];
                outputs[i].Add(stepOutputs[i].TokenId);
            }
        }
        foreach (var s in states)
            s?.Dispose();
        return results;
    }
}
