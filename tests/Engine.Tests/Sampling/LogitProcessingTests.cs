using InferenceServer.Engine.Sampling;
using TorchSharp;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>
/// The pre-sampling stage (min_tokens, logit_bias, penalties) against hand-computed logits.
/// Every row starts from the same 8 logits; EOS is token 7.
/// </summary>
public class LogitProcessingTests
{
    private static readonly float[] Base = [2f, -1f, 0.5f, -3f, 1f, 0f, 4f, -2f];
    private const int Eos = 7;
    private const float NegInf = float.NegativeInfinity;

    public static TheoryData<string, SequenceSamplingInput, float[]> Cases => new()
    {
        {
            // Repetition over prompt ∪ output: 2 > 0 → 2/2; −1 → −1·2; .5 → .25.
            "repetition",
            Row(new SamplingParams { RepetitionPenalty = 2f }, prompt: [0, 1], output: [2, 2]),
            [1f, -2f, 0.25f, -3f, 1f, 0f, 4f, -2f]
        },
        {
            // Frequency/presence over OUTPUT only (token 0 is only in the prompt): 1 − 3·.5 − .25; 4 − .5 − .25.
            "frequency+presence",
            Row(new SamplingParams { FrequencyPenalty = 0.5f, PresencePenalty = 0.25f }, prompt: [0], output: [4, 4, 4, 6]),
            [2f, -1f, 0.5f, -3f, -0.75f, 0f, 3.25f, -2f]
        },
        {
            // Repetition first (−3·1.5, −2·1.5, −1·1.5), then −freq·count − presence.
            "all penalties",
            Row(new SamplingParams { RepetitionPenalty = 1.5f, FrequencyPenalty = 1f, PresencePenalty = 1f }, prompt: [3], output: [7, 1, 1]),
            [2f, -4.5f, 0.5f, -4.5f, 1f, 0f, 4f, -5f]
        },
        {
            // Bias is added; −300 is clamped to −100.
            "logit bias",
            Row(new SamplingParams { LogitBias = new Dictionary<int, float> { [5] = 2.5f, [6] = -300f } }),
            [2f, -1f, 0.5f, -3f, 1f, 2.5f, -96f, -2f]
        },
        {
            // 1 output token < min_tokens 2: EOS (7) and stop id 3 are −inf, even with a bias on EOS.
            "min_tokens active",
            Row(new SamplingParams { MinTokens = 2, StopTokenIds = [3], LogitBias = new Dictionary<int, float> { [Eos] = 10f } }, output: [1]),
            [2f, -1f, 0.5f, NegInf, 1f, 0f, 4f, NegInf]
        },
        {
            "min_tokens reached",
            Row(new SamplingParams { MinTokens = 2, StopTokenIds = [3] }, output: [1, 2]),
            [2f, -1f, 0.5f, -3f, 1f, 0f, 4f, -2f]
        },
        {
            // vLLM order: bias before penalties → (2 + 1) / 2, not 2/2 + 1.
            "bias then repetition",
            Row(new SamplingParams { RepetitionPenalty = 2f, LogitBias = new Dictionary<int, float> { [0] = 1f } }, prompt: [0]),
            [1.5f, -1f, 0.5f, -3f, 1f, 0f, 4f, -2f]
        },
        {
            "nothing",
            Row(new SamplingParams(), prompt: [0, 1, 2], output: [3, 4]),
            [2f, -1f, 0.5f, -3f, 1f, 0f, 4f, -2f]
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RowAloneMatchesHandComputedLogits(string name, SequenceSamplingInput row, float[] expected)
    {
        using var logits = torch.tensor(Base, 1, Base.Length);
        using var sampler = new Sampler([Eos]);
        using var processed = sampler.ProcessLogits(logits, [row]);
        AssertRow(name, expected, ToArray2D(processed), 0);
    }

    [Fact]
    public void AllCasesInOneBatchMatchHandComputedLogits()
    {
        var cases = Cases.Select(c => c.Data).ToArray();
        var values = new float[cases.Length * Base.Length];
        for (var i = 0; i < cases.Length; i++)
            Base.CopyTo(values, i * Base.Length);
        using var logits = torch.tensor(values, cases.Length, Base.Length);
        using var sampler = new Sampler([Eos]);
        using var processed = sampler.ProcessLogits(logits, cases.Select(c => c.Item2).ToArray());
        var result = ToArray2D(processed);
        for (var i = 0; i < cases.Length; i++)
            AssertRow(cases[i].Item1, cases[i].Item3, result, i);
    }

    [Fact]
    public void PositiveBiasWinsGreedyAndNegativeBiasExcludes()
    {
        using var logits = torch.tensor(Base, 1, Base.Length);
        using var sampler = new Sampler([Eos]);
        var boosted = sampler.Sample(logits, [Row(SamplingParams.Greedy with { LogitBias = new Dictionary<int, float> { [3] = 100f } })]);
        Assert.Equal(3, boosted[0].TokenId);
        var banned = sampler.Sample(logits, [Row(SamplingParams.Greedy with { LogitBias = new Dictionary<int, float> { [6] = -100f } })]);
        Assert.Equal(0, banned[0].TokenId);
    }

    [Fact]
    public void MinTokensBlocksEosUntilReached()
    {
        // EOS dominates the distribution; sampled rows must still never pick it while blocked.
        using var logits = LogitsFromProbabilities(512, 16, 0.01, 0.01, 0.97, 0.01);
        using var sampler = new Sampler([2], sharedSeed: 8);
        var p = new SamplingParams { MinTokens = 3 };
        var blocked = sampler.Sample(logits, Enumerable.Range(0, 512).Select(_ => Row(p, output: [5, 6])).ToArray());
        Assert.DoesNotContain(blocked, o => o.TokenId == 2);
        var greedyBlocked = sampler.Sample(logits, Enumerable.Range(0, 512).Select(_ => Row(p with { Temperature = 0f }, output: [5])).ToArray());
        Assert.DoesNotContain(greedyBlocked, o => o.TokenId == 2);
        var allowed = sampler.Sample(logits, Enumerable.Range(0, 512).Select(_ => Row(p with { Temperature = 0f }, output: [5, 6, 7])).ToArray());
        Assert.All(allowed, o => Assert.Equal(2, o.TokenId));
    }

    private static void AssertRow(string name, float[] expected, float[,] actual, int row)
    {
        for (var token = 0; token < expected.Length; token++)
        {
            var a = actual[row, token];
            var e = expected[token];
            Assert.True(float.IsNegativeInfinity(e) ? float.IsNegativeInfinity(a) : Math.Abs(a - e) < 1e-5f,
                $"{name}: token {token} is {a}, expected {e}");
        }
    }
}
