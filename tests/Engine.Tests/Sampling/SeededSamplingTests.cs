using InferenceServer.Engine.Sampling;
using TorchSharp;
using static TorchSharp.torch;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>A seeded sequence's draws depend only on its seed and its own logits — not on the batch around it.</summary>
public class SeededSamplingTests
{
    private const int Vocab = 4096;
    private const int Steps = 8;

    [Fact]
    public void SameSeedSameDrawsAloneOrAnywhereInAnyBatch()
    {
        var p = new SamplingParams { Temperature = 1f, TopP = 0.95f, Seed = 1234 };
        var alone = Draw(p, batchSize: 1, position: 0);
        Assert.Equal(alone, Draw(p, batchSize: 5, position: 3));
        Assert.Equal(alone, Draw(p, batchSize: 2, position: 0));
        Assert.Equal(alone, Draw(p, batchSize: 7, position: 6, sharedSeed: 42));
    }

    [Fact]
    public void DifferentSeedsGiveDifferentDraws()
    {
        var a = Draw(new SamplingParams { Seed = 1 }, batchSize: 1, position: 0);
        var b = Draw(new SamplingParams { Seed = 2 }, batchSize: 1, position: 0);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void UnseededRowsFollowTheSharedStream()
    {
        var p = new SamplingParams();
        Assert.Equal(Draw(p, 1, 0, sharedSeed: 5), Draw(p, 1, 0, sharedSeed: 5));
        Assert.NotEqual(Draw(p, 1, 0, sharedSeed: 5), Draw(p, 1, 0, sharedSeed: 6));
    }

    [Fact]
    public void SeededRowWithoutRandomStateIsRejected()
    {
        using var logits = RandomLogits(1, 32, seed: 1);
        using var sampler = new Sampler([]);
        var p = new SamplingParams { Seed = 3 };
        Assert.Throws<ArgumentException>(() => sampler.Sample(logits, [new SequenceSamplingInput(p, [], [])]));
    }

    /// <summary>
    /// Runs <see cref="Steps"/> decode steps with the seeded row at <paramref name="position"/>; the other rows are a
    /// mix of greedy, unseeded and differently seeded rows over their own logits. Returns the seeded row's tokens.
    /// </summary>
    private static int[] Draw(SamplingParams p, int batchSize, int position, long? sharedSeed = null)
    {
        using var sampler = new Sampler([], sharedSeed);
        using var state = SequenceRandomState.For(p);
        var others = new[]
        {
            SamplingParams.Greedy,
            new SamplingParams { Temperature = 0.5f },
            new SamplingParams { Seed = 999, TopK = 10 },
        };
        var otherStates = Enumerable.Range(0, batchSize).Select(i => SequenceRandomState.For(others[i % others.Length])).ToArray();
        var tokens = new List<int>();
        for (var step = 0; step < Steps; step++)
        {
            using var rowLogits = RandomLogits(1, Vocab, seed: 1000 + step, scale: 1f);
            using var otherLogits = RandomLogits(batchSize, Vocab, seed: 2000 + step + batchSize);
            var rows = new SequenceSamplingInput[batchSize];
            var parts = new Tensor[batchSize];
            for (var i = 0; i < batchSize; i++)
            {
                if (i == position)
                {
                    rows[i] = new SequenceSamplingInput(p, [], tokens.ToArray(), state);
                    parts[i] = rowLogits;
                }
                else
                {
                    rows[i] = new SequenceSamplingInput(others[i % others.Length], [], [], otherStates[i]);
                    parts[i] = otherLogits[i].unsqueeze(0);
                }
            }
            using var logits = torch.cat(parts, 0);
            tokens.Add(sampler.Sample(logits, rows)[position].TokenId);
        }
        foreach (var s in otherStates)
            s?.Dispose();
        return tokens.ToArray();
    }
}
