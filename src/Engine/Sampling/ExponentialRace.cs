using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Draws one token per row from softmax(logits) as argmax(p / q) with q ~ Exp(1) i.i.d. — equivalent to a
/// categorical draw, batched, and with no host sync (unlike multinomial's checks).
/// Seeded rows take their q row from their own generator, so their stream depends on nothing else in the batch.
/// </summary>
internal static class ExponentialRace
{
    /// <summary>
    /// exponential_ can return exactly 0 (−log(1 − u) at u = 0); p / 0 would be inf (or NaN for p = 0),
    /// so q is floored. p ≤ 1 divided by 1e-30 still fits float32.
    /// </summary>
    private const double MinNoise = 1e-30;
    private static readonly TorchSharp.Scalar MinNoiseScalar = MinNoise.ToScalar();

    /// <summary>Token ids [B] int64 drawn from <paramref name="logits"/> ([B, V] float32, −inf = excluded).</summary>
    /// <param name="shared">Generator for unseeded rows; null = libtorch's default generator of the device.</param>
    public static Tensor Sample(Tensor logits, IReadOnlyList<SequenceSamplingInput> rows, torch.Generator? shared)
    {
        var probs = logits.softmax(-1);                                                             // [B, V]
        var noise = Noise(probs, rows, shared);                                                      // [B, V]
        return probs.div_(noise).argmax(-1);                                                         // [B]
    }

    private static Tensor Noise(Tensor probs, IReadOnlyList<SequenceSamplingInput> rows, torch.Generator? shared)
    {
        var seededRows = new List<long>();
        var anyUnseededSampled = false;
        for (var row = 0; row < rows.Count; row++)
        {
            var p = rows[row].Parameters;
            if (p.IsGreedy)
                continue;
            if (p.Seed == null)
                anyUnseededSampled = true;
            else
                seededRows.Add(row);
        }

        // One draw over the whole batch for unseeded rows; greedy rows' values are ignored, seeded rows' replaced.
        var noise = anyUnseededSampled
            ? torch.empty_like(probs).exponential_(1.0, shared)
            : torch.ones_like(probs);
        if (seededRows.Count > 0)
            noise.index_copy_(0, HostToDevice.Copy(seededRows.ToArray(), probs.device), SeededNoise(probs, rows, seededRows));
        return noise.clamp_min_(MinNoiseScalar);
    }

    /// <summary>[S, V] noise for the S seeded rows, drawn on the CPU (see <see cref="SequenceRandomState"/>) and moved in one copy.</summary>
    private static Tensor SeededNoise(Tensor probs, IReadOnlyList<SequenceSamplingInput> rows, List<long> seededRows)
    {
        var vocab = probs.shape[1];
        var cpuNoise = torch.empty(seededRows.Count, vocab, ScalarType.Float32, torch.CPU);         // [S, V]
        for (var i = 0; i < seededRows.Count; i++)
            cpuNoise[i].exponential_(1.0, rows[(int)seededRows[i]].RandomState!.CpuGenerator);
        return HostToDevice.Move(cpuNoise, probs.device);
    }
}
