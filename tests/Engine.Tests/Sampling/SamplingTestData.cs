using InferenceServer.Engine.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>Deterministic logits and row inputs for sampler tests (CPU).</summary>
internal static class SamplingTestData
{
    /// <summary>[B, V] float32 logits ~ N(0, scale²) from System.Random(seed) — identical on every machine.</summary>
    public static Tensor RandomLogits(int batch, int vocab, int seed, float scale = 3f)
    {
        var random = new Random(seed);
        var values = new float[batch * vocab];
        for (var i = 0; i < values.Length; i++)
        {
            // Box–Muller.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            values[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return torch.tensor(values, batch, vocab, ScalarType.Float32);
    }

    /// <summary>[B, V] float32 rows all equal to log(probs) (tokens beyond probs.Length get a negligible −50).</summary>
    public static Tensor LogitsFromProbabilities(int batch, int vocab, params double[] probs)
    {
        var row = new float[vocab];
        Array.Fill(row, -50f);
        for (var i = 0; i < probs.Length; i++)
            row[i] = (float)Math.Log(probs[i]);
        var values = new float[batch * vocab];
        for (var b = 0; b < batch; b++)
            Array.Copy(row, 0, values, b * vocab, vocab);
        return torch.tensor(values, batch, vocab, ScalarType.Float32);
    }

    public static SequenceSamplingInput Row(SamplingParams p, IReadOnlyList<int>? prompt = null, IReadOnlyList<int>? output = null) =>
        new(p, prompt ?? [], output ?? [], SequenceRandomState.For(p));

    public static SequenceSamplingInput[] Rows(int count, SamplingParams p) =>
        Enumerable.Range(0, count).Select(_ => Row(p)).ToArray();

    public static float[,] ToArray2D(Tensor t)
    {
        using var cpu = t.cpu();
        var rows = (int)t.shape[0];
        var cols = (int)t.shape[1];
        var flat = cpu.data<float>().ToArray();
        var result = new float[rows, cols];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
                result[r, c] = flat[r * cols + c];
        }
        return result;
    }

    public static long[] ArgmaxPerRow(Tensor logits)
    {
        using var ids = logits.argmax(-1);
        return ids.data<long>().ToArray();
    }

    /// <summary>Fraction of draws equal to each token id in [0, vocab).</summary>
    public static double[] Frequencies(IEnumerable<SampleOutput> outputs, int vocab)
    {
        var counts = new double[vocab];
        var n = 0;
        foreach (var o in outputs)
        {
            counts[o.TokenId]++;
            n++;
        }
        return counts.Select(c => c / n).ToArray();
    }
}
