using InferenceServer.Quant.Formats;
using InferenceServer.Quant.LutGemm;

namespace InferenceServer.Quant.Tests.LutGemm;

/// <summary>Seeded random weights, activations and packed BCQ layers for the LUT-GEMM tests.</summary>
internal static class BcqTestData
{
    /// <summary>Standard normal values times <paramref name="std"/> (Box–Muller on a seeded generator).</summary>
    public static float[] Normal(int count, int seed, float std = 1f)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++)
            v[i] = std * (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return v;
    }

    /// <summary>Random signs, scales and offsets in the packed layout (bits past K stay 0).</summary>
    public static BcqWeights RandomPacked(int n, int k, int bits, int groupSize, int seed)
    {
        var rng = new Random(seed);
        int words = BcqWeights.WordsFor(k), groups = BcqWeights.GroupsFor(k, groupSize);
        var signs = new uint[bits * words * n];
        for (int i = 0; i < bits; i++)
            for (int w = 0; w < words; w++)
                for (int j = 0; j < n; j++)
                {
                    uint word = (uint)rng.NextInt64(0, 1L << 32);
                    int valid = Math.Min(32, k - 32 * w);
                    signs[(i * words + w) * n + j] = valid == 32 ? word : word & ((1u << valid) - 1);
                }
        var alpha = Normal(bits * groups * n, seed + 1, 0.05f);
        var offset = Normal(groups * n, seed + 2, 0.01f);
        return new BcqWeights(n, k, bits, groupSize, signs, alpha, offset);
    }

    /// <summary>y = x·Wᵀ in double from the dequantized weights [N, K].</summary>
    public static double[] ReferenceMatmul(float[] x, float[] w, int m, int n, int k)
    {
        var y = new double[m * n];
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int c = 0; c < k; c++) s += (double)x[r * k + c] * w[j * k + c];
                y[r * n + j] = s;
            }
        return y;
    }

    /// <summary>
    /// The float32 error bound of LUT-GEMM against the exact product, for output (r, j): every product α·x or offset·x
    /// passes through fewer than K + 16 roundings (8-wide table, chunk sums, the plane and group sums), so
    /// |error| ≤ (K + 16)·2^-24 · Σ_g (Σ_i |α[i, g, j]| + |offset[g, j]|) · Σ_{k ∈ g} |x[r, k]|.
    /// The dequantized weights' own rounding ((q + 1)·2^-24 of the same sum) fits inside it.
    /// </summary>
    public static double Tolerance(BcqWeights w, float[] x, int r, int j)
    {
        double bound = 0;
        for (int g = 0; g < w.Groups; g++)
        {
            double scale = Math.Abs(w.Offset[g * w.OutFeatures + j]);
            for (int i = 0; i < w.Bits; i++) scale += Math.Abs(w.Alpha[(i * w.Groups + g) * w.OutFeatures + j]);
            double xs = 0;
            for (int c = g * w.GroupSize; c < Math.Min(w.InFeatures, (g + 1) * w.GroupSize); c++) xs += Math.Abs(x[r * w.InFeatures + c]);
            bound += scale * xs;
        }
        return (w.InFeatures + 16) * Math.Pow(2, -24) * bound;
    }
}
