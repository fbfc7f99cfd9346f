using InferenceServer.Engine.Sampling;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>Logprobs are log_softmax of the RAW logits (vLLM raw_logprobs), whatever processing chose the token.</summary>
public class LogprobsTests
{
    [Theory]
    [InlineData(32)]
    [InlineData(4096)]
    public void LogprobsAreRawLogSoftmaxAndTopNIsSorted(int vocab)
    {
        using var logits = RandomLogits(4, vocab, seed: 77);
        using var sampler = new Sampler([0], sharedSeed: 3);
        SequenceSamplingInput[] rows =
        [
            Row(new SamplingParams { Logprobs = 5, Temperature = 0.7f, RepetitionPenalty = 1.5f, TopK = 20 }, prompt: [1, 2, 3]),
            Row(SamplingParams.Greedy with { Logprobs = 3, LogitBias = new Dictionary<int, float> { [4] = 50f } }),
            Row(new SamplingParams { Logprobs = 0, Seed = 9, FrequencyPenalty = 1f }, output: [5, 5]),
            Row(new SamplingParams { TopP = 0.5f }),
        ];
        var outputs = sampler.Sample(logits, rows);
        var raw = ToArray2D(logits);

        for (var row = 0; row < rows.Length; row++)
        {
            var expected = LogSoftmax(Enumerable.Range(0, vocab).Select(i => (double)raw[row, i]).ToArray());
            var o = outputs[row];
            if (rows[row].Parameters.Logprobs is not int n)
            {
                Assert.Null(o.Logprob);
                Assert.Null(o.Rank);
                Assert.Empty(o.TopLogprobs);
                continue;
            }
            Assert.Equal(expected[o.TokenId], o.Logprob!.Value, 1e-4);
            Assert.Equal(1 + expected.Count(v => v > expected[o.TokenId]), o.Rank);
            Assert.Equal(n, o.TopLogprobs.Count);
            var best = Enumerable.Range(0, vocab).OrderByDescending(i => expected[i]).Take(n).ToArray();
            Assert.Equal(best, o.TopLogprobs.Select(t => t.TokenId));
            Assert.All(o.TopLogprobs, t => Assert.Equal(expected[t.TokenId], t.Logprob, 1e-4));
            for (var j = 1; j < o.TopLogprobs.Count; j++)
                Assert.True(o.TopLogprobs[j - 1].Logprob >= o.TopLogprobs[j].Logprob);
        }
        // The bias forced token 4, whose raw logprob is reported (not the biased one).
        Assert.Equal(4, outputs[1].TokenId);
    }

    private static double[] LogSoftmax(double[] x)
    {
        var max = x.Max();
        var logSum = Math.Log(x.Sum(v => Math.Exp(v - max))) + max;
        return x.Select(v => v - logSum).ToArray();
    }
}
