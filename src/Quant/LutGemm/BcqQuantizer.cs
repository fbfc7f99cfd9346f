using InferenceServer.Quant.Formats;
using System.Buffers;

namespace InferenceServer.Quant.LutGemm;

/// <summary>How the signs and scales of each group start before refinement.</summary>
public enum BcqInit
{
    /// <summary>Asymmetric round-to-nearest, converted exactly (α[i] = scale·2^(i−1) plus an offset): uniform quantization.</summary>
    Uniform,
    /// <summary>Greedy residual binarisation around the group mean: non-uniform quantization.</summary>
    Greedy,
}

/// <summary>
/// Quantizes W [N, K] to <see cref="BcqWeights"/>: per output row and group of <c>groupSize</c> input channels, an
/// initialisation (<see cref="BcqInit"/>) followed by up to <c>iterations</c> rounds of alternating refinement
/// (<see cref="BcqGroupFit.Refine"/>). Uniform with 0 iterations is round-to-nearest exactly.
/// </summary>
public static class BcqQuantizer
{
    /// <param name="w">[N, K] row-major.</param>
    public static BcqWeights Quantize(ReadOnlySpan<float> w, int outFeatures, int inFeatures, int bits, int groupSize, BcqInit init, int iterations)
    {
        BcqWeights.Validate(outFeatures, inFeatures, bits, groupSize);
        if (w.Length != (long)outFeatures * inFeatures)
            throw new ArgumentException($"weights hold {w.Length} values; [{outFeatures}, {inFeatures}] needs {(long)outFeatures * inFeatures}.");
        if (iterations < 0) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "must be ≥ 0");
        int groups = BcqWeights.GroupsFor(inFeatures, groupSize);
        var weights = w.ToArray();
        var codes = new byte[weights.LongLength];
        var alpha = new float[(long)bits * groups * outFeatures];
        var offset = new float[(long)groups * outFeatures];
        Parallel.For(0, outFeatures, n =>
        {
            Span<float> a = stackalloc float[bits];
            var residual = ArrayPool<float>.Shared.Rent(groupSize);
            try
            {
                for (int g = 0; g < groups; g++)
                {
                    int k0 = g * groupSize, len = Math.Min(groupSize, inFeatures - k0);
                    var wg = weights.AsSpan((int)((long)n * inFeatures + k0), len);
                    var cg = codes.AsSpan((int)((long)n * inFeatures + k0), len);
                    float z;
                    if (init == BcqInit.Uniform) BcqGroupFit.Uniform(wg, bits, cg, a, out z);
                    else BcqGroupFit.Greedy(wg, bits, cg, a, out z, residual);
                    BcqGroupFit.Refine(wg, bits, cg, a, ref z, iterations);
                    for (int i = 0; i < bits; i++) alpha[((long)i * groups + g) * outFeatures + n] = a[i];
                    offset[(long)g * outFeatures + n] = z;
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(residual);
            }
        });
        return new BcqWeights(outFeatures, inFeatures, bits, groupSize, Pack(codes, outFeatures, inFeatures, bits), alpha, offset);
    }

    /// <summary>Codes [N, K] (bit i = sign of plane i) to the sign words [q, W, N] of <see cref="BcqWeights.Signs"/>.</summary>
    public static uint[] Pack(byte[] codes, int outFeatures, int inFeatures, int bits)
    {
        int words = BcqWeights.WordsFor(inFeatures);
        var signs = new uint[(long)bits * words * outFeatures];
        Parallel.For(0, outFeatures, n =>
        {
            for (int k = 0; k < inFeatures; k++)
            {
                int c = codes[(long)n * inFeatures + k];
                for (int i = 0; i < bits; i++)
                    if ((c >> i & 1) != 0) signs[((long)i * words + k / BcqWeights.WordBits) * outFeatures + n] |= 1u << (k % BcqWeights.WordBits);
            }
        });
        return signs;
    }
}
