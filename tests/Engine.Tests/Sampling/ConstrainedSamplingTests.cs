using InferenceServer.Engine.Sampling;
using TorchSharp;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>
/// The sampler applies each row's <see cref="ILogitsConstraint"/> (here a stand-in that allows a fixed token set per
/// position) before everything else, allows EOS only where the constraint may end, and follows the row's output.
/// </summary>
public class ConstrainedSamplingTests
{
    private const int Eos = 0;

    private static readonly int[][] Allowed = [[5, 40, 63], [7], [1, 2, 3, 100]];

    [Fact]
    public void GreedyAndSampledRowsDrawOnlyAllowedTokens()
    {
        var constraint = new PositionConstraint(Allowed);
        using var sampler = new Sampler([Eos], sharedSeed: 3);
        for (int seed = 0; seed < 20; seed++)
        {
            using var logits = RandomLogits(2, 128, seed);
            var greedy = new SequenceSamplingInput(SamplingParams.Greedy with { Constraint = constraint }, [], []);
            var sampled = new SequenceSamplingInput(new SamplingParams { Temperature = 1.5f, Constraint = constraint }, [], []);
            var outputs = sampler.Sample(logits, [greedy, sampled]);
            var row0 = logits[0].data<float>().ToArray();
            Assert.Equal(Allowed[0].MaxBy(id => row0[id]), outputs[0].TokenId);
            Assert.Contains(outputs[1].TokenId, Allowed[0]);
        }
    }

    [Fact]
    public void UnconstrainedRowsInTheSameBatchAreUntouched()
    {
        using var logits = RandomLogits(2, 128, seed: 9);
        using var sampler = new Sampler([Eos]);
        var rows = new[]
        {
            new SequenceSamplingInput(SamplingParams.Greedy with { Constraint = new PositionConstraint(Allowed) }, [], []),
            new SequenceSamplingInput(SamplingParams.Greedy, [], []),
        };
        var outputs = sampler.Sample(logits, rows);
        Assert.Equal(ArgmaxPerRow(logits)[1], outputs[1].TokenId);
        using var processed = sampler.ProcessLogits(logits, rows);
        Assert.Equal(3, processed[0].isfinite().sum().item<long>());
        Assert.True(processed[1].eq(logits[1]).all().item<bool>());
    }

    [Fact]
    public void RowFollowsItsOutputAndEndsOnlyWhenComplete()
    {
        var constraint = new PositionConstraint(Allowed);
        using var sampler = new Sampler([Eos]);
        var output = new List<int>();
        // EOS gets the largest logit, so whenever it is allowed the greedy row takes it.
        using var logits = RandomLogits(1, 128, seed: 1).index_put_(torch.tensor(50f), torch.tensor(new long[] { 0 }), torch.tensor(new long[] { Eos }));
        var row = new SequenceSamplingInput(SamplingParams.Greedy with { Constraint = constraint }, [], output);
        for (int step = 0; step < Allowed.Length; step++)
        {
            int token = sampler.Sample(logits, [row])[0].TokenId;
            Assert.Contains(token, Allowed[step]);
            output.Add(token);
        }
        Assert.Equal(Eos, sampler.Sample(logits, [row])[0].TokenId);
        Assert.Equal(1, constraint.Starts);                       // one state, advanced over the output as it grew
    }

    [Fact]
    public void PlaceholderTokenIsRefused()
    {
        using var logits = RandomLogits(1, 128, seed: 2);
        using var sampler = new Sampler([Eos]);
        var row = new SequenceSamplingInput(SamplingParams.Greedy with { Constraint = new PositionConstraint(Allowed) }, [], [-1]);
        Assert.Throws<InvalidOperationException>(() => sampler.Sample(logits, [row]));
    }

    [Fact]
    public void RefusedTokenLeavesOnlyEnd()
    {
        using var logits = RandomLogits(1, 128, seed: 4);
        using var sampler = new Sampler([Eos]);
        var row = new SequenceSamplingInput(SamplingParams.Greedy with { Constraint = new PositionConstraint(Allowed) }, [], [99]);
        Assert.Equal(Eos, sampler.Sample(logits, [row])[0].TokenId);
    }
}
