using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Draws one token per row from softmax(logits) as argmax(p / q) with q ~ Exp(1) i.i.d. — equivalent to a
/// categorical draw, batched, and with no host sync (unlike multinomial's CPU-side checks).
/// Seeded rows draw their q row from their own generator, so their stream depends on nothing else in the batch.
/// </summary>
internal static class ExponentialRace
{
    /// <summary>
    /// exponential_ can return exactly 0 (−log(1 − u) at u = 0); p / 0 would be inf (or NaN for p = 0),
    /// so q is floored. 1/1e-30 times p ≤ 1 still fits float32.
    /// </summary>
    private const double MinNoise = 1e-30;

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
        var anyUnseededSampled = rows.Any(r => !r.Parameters.IsGreedy && r.Parameters.Seed == null);
        // One draw over the whole batch for unseeded rows; greedy and seeded rows overwrite or ignore their part.
        var noise = anyUnseededSampled
            ? torch.empty_like(probs).exponential_(1.0, shared)
            : torch.ones_like(probs);
        for (var row = 0; row < rows.Count; row++)
        {
            var p = rows[row].Parameters;
            if (p.IsGreedy || p.Seed == null)
                continue;
            // Exactly V draws per sampled step from this sequence's generator.
            var generator = rows[row].RandomState!.GeneratorOn(probs.device);
            noise[row].exponential_(1.0, generator);
        }
        return noise.clamp_min_(MinNoise);
    }
}
