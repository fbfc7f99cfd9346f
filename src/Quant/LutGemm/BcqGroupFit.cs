using InferenceServer.Quant.Formats;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// BCQ of one group of weights w [g]: codes (bit i of code[k] is the sign of plane i, 1 → +1), scales α [q] and an
/// offset z with w[k] ≈ Σ_i α[i]·b_i(code[k]) + z. Three steps: two initialisations (uniform round-to-nearest converted
/// exactly, or greedy) and the alternating refinement (least-squares α and z for fixed signs, then the nearest code
/// for fixed α and z), each of which never increases the squared error.
/// </summary>
internal static class BcqGroupFit
{
    /// <summary>
    /// Asymmetric round-to-nearest with 2^q levels: scale = (max − min)/(2^q − 1), zero = round(−min/scale),
    /// code = clamp(round(w/scale) + zero, 0, 2^q − 1), ŵ = scale·(code − zero). In BCQ form, with the code's bits as
    /// the signs: α[i] = scale·2^(i−1) and z = scale·((2^q − 1)/2 − zero), because code = Σ_i 2^i·(b_i + 1)/2
    /// = Σ_i 2^(i−1)·b_i + (2^q − 1)/2.
    /// </summary>
    public static void Uniform(ReadOnlySpan<float> w, int bits, Span<byte> codes, Span<float> alpha, out float z)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var v in w) { min = Math.Min(min, v); max = Math.Max(max, v); }
        int levels = (1 << bits) - 1;
        float scale = (max - min) / levels;
        if (!(scale > 0) || !float.IsFinite(scale))
        {
            // A constant group: the offset alone is exact.
            codes.Clear();
            alpha.Clear();
            z = min;
            return;
        }
        float zero = MathF.Round(-min / scale);   // half to even, as torch.round
        for (int k = 0; k < w.Length; k++)
            codes[k] = (byte)Math.Clamp(MathF.Round(w[k] / scale) + zero, 0, levels);
        for (int i = 0; i < bits; i++) alpha[i] = scale * (1 << i) / 2;
        z = scale * (levels / 2f - zero);
    }

    /// <summary>
    /// Greedy BCQ around the mean: z = mean(w), then for each plane b_i = sign(r), α[i] = mean|r|, r −= α[i]·b_i with
    /// r the residual (sign(0) = +1).
    /// </summary>
    public static void Greedy(ReadOnlySpan<float> w, int bits, Span<byte> codes, Span<float> alpha, out float z, Span<float> residual)
    {
        double mean = 0;
        foreach (var v in w) mean += v;
        z = (float)(mean / w.Length);
        for (int k = 0; k < w.Length; k++) residual[k] = w[k] - z;
        codes.Clear();
        for (int i = 0; i < bits; i++)
        {
            double abs = 0;
            for (int k = 0; k < w.Length; k++) abs += Math.Abs(residual[k]);
            float a = (float)(abs / w.Length);
            alpha[i] = a;
            for (int k = 0; k < w.Length; k++)
            {
                if (residual[k] >= 0) { codes[k] |= (byte)(1 << i); residual[k] -= a; }
                else residual[k] += a;
            }
        }
    }

    /// <summary>
    /// Alternating refinement: least-squares (α, z) for the current signs, then each weight's nearest of the 2^q levels,
    /// until no code changes or <paramref name="iterations"/> rounds are done. Returns the rounds run.
    /// </summary>
    public static int Refine(ReadOnlySpan<float> w, int bits, Span<byte> codes, Span<float> alpha, ref float z, int iterations)
    {
        Span<float> candidate = stackalloc float[MaxUnknowns];
        int round = 0;
        while (round < iterations)
        {
            round++;
            double before = SquaredError(w, bits, codes, alpha, z);
            if (LeastSquares(w, bits, codes, candidate) && SquaredError(w, bits, codes, candidate[..bits], candidate[bits]) <= before)
            {
                candidate[..bits].CopyTo(alpha);
                z = candidate[bits];
            }
            if (!AssignNearest(w, bits, alpha, z, codes)) break;
        }
        return round;
    }

    private const int MaxUnknowns = BcqWeights.MaxBits + 1;

    /// <summary>Σ_k (w[k] − ŵ[k])², in double.</summary>
    public static double SquaredError(ReadOnlySpan<float> w, int bits, ReadOnlySpan<byte> codes, ReadOnlySpan<float> alpha, float z)
    {
        Span<float> level = stackalloc float[1 << bits];
        Levels(bits, alpha, z, level);
        double e = 0;
        for (int k = 0; k < w.Length; k++)
        {
            double d = w[k] - level[codes[k]];
            e += d * d;
        }
        return e;
    }

    /// <summary>level[c] = z + Σ_i α[i]·(bit i of c ? +1 : −1), summed in plane order as the kernel's dequantization does.</summary>
    public static void Levels(int bits, ReadOnlySpan<float> alpha, float z, Span<float> level)
    {
        for (int c = 0; c < 1 << bits; c++)
        {
            float v = 0;
            for (int i = 0; i < bits; i++) v += (c >> i & 1) != 0 ? alpha[i] : -alpha[i];
            level[c] = v + z;
        }
    }

    /// <summary>
    /// Solves the normal equations AᵀA·u = Aᵀw for u = (α, z), A = [b_0 … b_{q−1}, 1] [g, q + 1], by Cholesky in double.
    /// A ridge of 1e-9·g on the diagonal keeps a rank-deficient A (a plane of one sign only) solvable with the
    /// minimum-norm split; false when even that fails.
    /// </summary>
    private static bool LeastSquares(ReadOnlySpan<float> w, int bits, ReadOnlySpan<byte> codes, Span<float> solution)
    {
        int u = bits + 1;
        Span<double> gram = stackalloc double[u * u];
        Span<double> rhs = stackalloc double[u];
        Span<double> s = stackalloc double[u];
        s[bits] = 1;
        for (int k = 0; k < w.Length; k++)
        {
            for (int i = 0; i < bits; i++) s[i] = (codes[k] >> i & 1) != 0 ? 1 : -1;
            for (int i = 0; i < u; i++)
            {
                rhs[i] += s[i] * w[k];
                for (int j = 0; j <= i; j++) gram[i * u + j] += s[i] * s[j];
            }
        }
        double ridge = 1e-9 * w.Length;
        for (int i = 0; i < u; i++) gram[i * u + i] += ridge;
        // Cholesky: gram = L·Lᵀ, L in the lower triangle.
        for (int i = 0; i < u; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = gram[i * u + j];
                for (int p = 0; p < j; p++) sum -= gram[i * u + p] * gram[j * u + p];
                if (i == j)
                {
                    if (!(sum > 0)) return false;
                    gram[i * u + i] = Math.Sqrt(sum);
                }
                else gram[i * u + j] = sum / gram[j * u + j];
            }
        }
        for (int i = 0; i < u; i++)
        {
            double sum = rhs[i];
            for (int p = 0; p < i; p++) sum -= gram[i * u + p] * rhs[p];
            rhs[i] = sum / gram[i * u + i];
        }
        for (int i = u - 1; i >= 0; i--)
        {
            double sum = rhs[i];
            for (int p = i + 1; p < u; p++) sum -= gram[p * u + i] * rhs[p];
            rhs[i] = sum / gram[i * u + i];
        }
        for (int i = 0; i < u; i++)
        {
            if (!double.IsFinite(rhs[i])) return false;
            solution[i] = (float)rhs[i];
        }
        return true;
    }

    /// <summary>Gives each weight the code of its nearest level (ties to the lower level); true when any code changed.</summary>
    private static bool AssignNearest(ReadOnlySpan<float> w, int bits, ReadOnlySpan<float> alpha, float z, Span<byte> codes)
    {
        int n = 1 << bits;
        Span<float> level = stackalloc float[n];
        Span<byte> order = stackalloc byte[n];
        Levels(bits, alpha, z, level);
        for (int c = 0; c < n; c++) order[c] = (byte)c;
        // Insertion sort of ≤ 16 levels, ascending.
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && level[order[j]] < level[order[j - 1]]; j--) (order[j], order[j - 1]) = (order[j - 1], order[j]);
        Span<float> mid = stackalloc float[n - 1];
        for (int j = 0; j + 1 < n; j++) mid[j] = 0.5f * (level[order[j]] + level[order[j + 1]]);
        bool changed = false;
        for (int k = 0; k < w.Length; k++)
        {
            int idx = 0;
            float v = w[k];
            for (int j = 0; j < mid.Length; j++) idx += v > mid[j] ? 1 : 0;
            byte c = order[idx];
            if (c != codes[k]) { codes[k] = c; changed = true; }
        }
        return changed;
    }
}
