using InferenceServer.Engine.Sampling;
using TorchSharp;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

public class GreedySamplingTests
{
    [Theory]
    [InlineData(32)]
    [InlineData(4096)]
    public void GreedyEqualsArgmax(int vocab)
    {
        using var logits = RandomLogits(8, vocab, seed: vocab);
        using var sampler = new Sampler([0]);
        var outputs = sampler.Sample(logits, Rows(8, SamplingParams.Greedy));
        Assert.Equal(ArgmaxPerRow(logits), outputs.Select(o => (long)o.TokenId));
        Assert.All(outputs, o => Assert.Null(o.Logprob));
    }

    [Fact]
    public void EmptyBatchGivesNoOutputs()
    {
        using var logits = torch.zeros(0, 32);
        using var sampler = new Sampler([0]);
        Assert.Empty(sampler.Sample(logits, []));
    }

    [Fact]
    public void RowCountMustMatchLogits()
    {
        using var logits = torch.zeros(2, 32);
        using var sampler = new Sampler([0]);
        Assert.Throws<ArgumentException>(() => sampler.Sample(logits, [Row(SamplingParams.Greedy)]));
    }

    [Fact]
    public void InputLogitsAreLeftUntouched()
    {
        using var logits = RandomLogits(3, 64, seed: 5);
        using var before = logits.clone();
        using var sampler = new Sampler([0], sharedSeed: 1);
        var p = new SamplingParams { Temperature = 0.7f, TopK = 5, TopP = 0.9f, MinP = 0.05f, RepetitionPenalty = 1.2f, FrequencyPenalty = 0.5f, Logprobs = 2 };
        sampler.Sample(logits, [Row(p, [1, 2], [3]), Row(SamplingParams.Greedy), Row(p with { LogitBias = new Dictionary<int, float> { [4] = 3f } })]);
        Assert.True(logits.eq(before).all().item<bool>());
    }

    [Fact]
    public void TemperatureTowardsZeroConvergesToArgmax()
    {
        // Logits whose top gap is ≥ 1: at T = 0.01 the runner-up has probability ≤ e^-100.
        const int vocab = 4096;
        using var random = RandomLogits(1, vocab, seed: 11);
        var values = random.data<float>().ToArray();
        var top = Array.IndexOf(values, values.Max());
        values[top] += 1f;
        using var row = torch.tensor(values, 1, vocab);
        using var logits = row.expand(256, vocab).contiguous();
        using var sampler = new Sampler([0], sharedSeed: 3);
        foreach (var t in new[] { 0.01f, 0.001f, 1e-6f, 0f })
        {
            var outputs = sampler.Sample(logits, Rows(256, new SamplingParams { Temperature = t }));
            Assert.All(outputs, o => Assert.Equal(top, o.TokenId));
        }
        // …whereas at T = 1 the same logits spread over many tokens.
        var warm = sampler.Sample(logits, Rows(256, new SamplingParams { Temperature = 1f }));
        Assert.True(warm.Select(o => o.TokenId).Distinct().Count() > 10);
    }

    [Fact]
    public void TopKOneEqualsGreedy()
    {
        using var logits = RandomLogits(64, 4096, seed: 21);
        using var sampler = new Sampler([0], sharedSeed: 4);
        var outputs = sampler.Sample(logits, Rows(64, new SamplingParams { Temperature = 1.5f, TopK = 1 }));
        Assert.Equal(ArgmaxPerRow(logits), outputs.Select(o => (long)o.TokenId));
    }

    [Fact]
    public void GreedyRowsIgnoreTruncationButNotPenalties()
    {
        using var logits = SamplingTestData.LogitsFromProbabilities(1, 32, 0.5, 0.3, 0.2);
        using var sampler = new Sampler([0]);
        // Repetition penalty on token 0 (seen in the prompt): log 0.5 ≈ −0.69 × 3 = −2.08 < log 0.3 ≈ −1.20.
        var penalised = sampler.Sample(logits, [Row(SamplingParams.Greedy with { RepetitionPenalty = 3f }, prompt: [0])]);
        Assert.Equal(1, penalised[0].TokenId);
    }
}
