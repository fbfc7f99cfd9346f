using InferenceServer.Engine.Sampling;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>
/// top-p / top-k / min-p: the surviving set is checked exactly via the sampling logits, and the draws are checked
/// against the renormalised probabilities. Draws use a fixed shared seed, so the tests are deterministic; with
/// N = 4000 draws the standard error of a frequency is ≤ 0.008, and the tolerance is 0.03 (≈ 4 σ).
/// </summary>
public class TruncationTests
{
    private const int Vocab = 32;
    private const int Draws = 4000;
    private const double Tolerance = 0.03;

    [Theory]
    // Mass above token j: 0, .4, .7, .9 → top_p = .65 keeps {0, 1}; .75 keeps {0, 1, 2}; .95 keeps all four.
    [InlineData(0.65f, new[] { 4.0 / 7, 3.0 / 7, 0, 0 })]
    [InlineData(0.75f, new[] { 4.0 / 9, 3.0 / 9, 2.0 / 9, 0 })]
    [InlineData(0.95f, new[] { 0.4, 0.3, 0.2, 0.1 })]
    [InlineData(0.1f, new[] { 1.0, 0, 0, 0 })]
    public void TopPKeepsTheNucleus(float topP, double[] expected)
    {
        var p = new SamplingParams { TopP = topP };
        AssertDistribution(p, expected, 0.4, 0.3, 0.2, 0.1);
    }

    [Fact]
    public void TopKKeepsTheKMostLikely()
    {
        var p = new SamplingParams { TopK = 2 };
        AssertDistribution(p, [0.4 / 0.7, 0.3 / 0.7, 0, 0], 0.4, 0.3, 0.2, 0.1);
    }

    [Fact]
    public void TopKThenTopPRenormalisesAfterTopK()
    {
        // top-k = 3 leaves {.4, .3, .2}/.9; mass above: 0, .444, .778 → top_p = .7 keeps {0, 1}.
        var p = new SamplingParams { TopK = 3, TopP = 0.7f };
        AssertDistribution(p, [4.0 / 7, 3.0 / 7, 0, 0], 0.4, 0.3, 0.2, 0.1);
    }

    [Fact]
    public void MinPDropsTokensBelowTheScaledMaximum()
    {
        // min_p = .15 → threshold .075: keeps .5, .3, .1; drops .06 and .04.
        var p = new SamplingParams { MinP = 0.15f };
        AssertDistribution(p, [0.5 / 0.9, 0.3 / 0.9, 0.1 / 0.9, 0, 0], 0.5, 0.3, 0.1, 0.06, 0.04);
    }

    [Fact]
    public void TemperatureScalesTheDistribution()
    {
        // T = 2 on log-probs (.64, .36) gives √.64 : √.36 = .8 : .6 → 4/7, 3/7.
        var p = new SamplingParams { Temperature = 2f };
        AssertDistribution(p, [4.0 / 7, 3.0 / 7], 0.64, 0.36);
    }

    [Fact]
    public void SamplingLogitsMarkExactlyTheExcludedTokens()
    {
        using var logits = LogitsFromProbabilities(3, Vocab, 0.4, 0.3, 0.2, 0.1);
        using var sampler = new Sampler([]);
        using var truncated = sampler.SamplingLogits(logits,
        [
            Row(new SamplingParams { TopP = 0.65f }),
            Row(new SamplingParams { TopK = 3 }),
            Row(new SamplingParams { MinP = 0.4f }),   // threshold .16: keeps .4, .3, .2
        ]);
        var values = ToArray2D(truncated);
        int[][] kept = [[0, 1], [0, 1, 2], [0, 1, 2]];
        for (var row = 0; row < 3; row++)
        {
            for (var token = 0; token < Vocab; token++)
                Assert.Equal(kept[row].Contains(token), float.IsFinite(values[row, token]));
        }
    }

    [Fact]
    public void RealSizeVocabularyTopPKeepsTheSmallestPrefixReachingP()
    {
        const int vocab = 4096;
        using var logits = RandomLogits(4, vocab, seed: 99);
        using var sampler = new Sampler([]);
        float[] topPs = [0.5f, 0.9f, 0.99f, 1f];
        using var truncated = sampler.SamplingLogits(logits, topPs.Select(p => Row(new SamplingParams { TopP = p })).ToArray());
        var raw = ToArray2D(logits);
        var result = ToArray2D(truncated);
        for (var row = 0; row < 4; row++)
        {
            var probs = Softmax(Enumerable.Range(0, vocab).Select(i => (double)raw[row, i]).ToArray());
            var order = Enumerable.Range(0, vocab).OrderByDescending(i => probs[i]).ToArray();
            var keptCount = Enumerable.Range(0, vocab).Count(i => float.IsFinite(result[row, i]));
            // The kept set is the top `keptCount` tokens, it reaches p, and one fewer would not.
            Assert.All(order.Take(keptCount), i => Assert.True(float.IsFinite(result[row, i])));
            var mass = order.Take(keptCount).Sum(i => probs[i]);
            var massWithoutLast = mass - probs[order[keptCount - 1]];
            Assert.True(mass >= topPs[row] - 1e-5, $"row {row}: kept mass {mass} < {topPs[row]}");
            if (topPs[row] < 1f)
                Assert.True(massWithoutLast < topPs[row] + 1e-5, $"row {row}: {keptCount} tokens is more than needed");
            else
                Assert.Equal(vocab, keptCount);
        }
    }

    private static void AssertDistribution(SamplingParams p, double[] expected, params double[] probs)
    {
        using var logits = LogitsFromProbabilities(Draws, Vocab, probs);
        using var sampler = new Sampler([], sharedSeed: 12345);
        var frequencies = Frequencies(sampler.Sample(logits, Rows(Draws, p)), Vocab);
        for (var token = 0; token < Vocab; token++)
        {
            var want = token < expected.Length ? expected[token] : 0;
            if (want == 0)
                Assert.True(frequencies[token] == 0, $"token {token} drawn with frequency {frequencies[token]} but should be excluded");
            else
                Assert.True(Math.Abs(frequencies[token] - want) < Tolerance, $"token {token}: frequency {frequencies[token]:F4}, expected {want:F4}");
        }
    }

    private static double[] Softmax(double[] x)
    {
        var max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }
}
