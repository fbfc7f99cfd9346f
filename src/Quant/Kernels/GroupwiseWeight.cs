namespace InferenceServer.Quant.Kernels;

/// <summary>
/// A weight matrix W [N, K] quantized per group of <see cref="GroupSize"/> consecutive input channels to
/// <see cref="Bits"/>-bit codes u ∈ [0, 2^b): W[n, k] ≈ (u[n, k] − z[n, g]) · s[n, g] with g = k / GroupSize.
/// </summary>
/// <remarks>
/// The codes are stored exactly as compressed-tensors' pack_to_int32 writes "weight_packed" (what llm-compressor
/// writes and vLLM reads): the signed value q = u − 2^(b−1) offset back to unsigned, 32/b codes per int32 word along
/// the input dimension, code k of a row in bits [b·(k mod 32/b), b·(k mod 32/b) + b) of word k / (32/b). The zero
/// point z is in the same code units (compressed-tensors' signed zero point + 2^(b−1)); symmetric weights have
/// z = 2^(b−1) everywhere, i.e. a signed zero point of 0.
/// </remarks>
public sealed class GroupwiseWeight
{
    public int Bits { get; }
    public int GroupSize { get; }
    public int OutFeatures { get; }
    public int InFeatures { get; }
    public bool Symmetric { get; }
    /// <summary>[N, K·b/32] packed codes.</summary>
    public int[] Packed { get; }
    /// <summary>[N, K/G] float32 scales.</summary>
    public float[] Scales { get; }
    /// <summary>[N, K/G] zero points in code units.</summary>
    public byte[] Zeros { get; }

    public int Groups => InFeatures / GroupSize;
    public int CodesPerWord => 32 / Bits;
    public int WordsPerRow => InFeatures / CodesPerWord;
    public int Mask => (1 << Bits) - 1;

    /// <summary>Packed codes plus float32 scales, plus b-bit zero points when asymmetric.</summary>
    public long Bytes => 4L * Packed.Length + 4L * Scales.Length + (Symmetric ? 0 : ((long)Zeros.Length * Bits + 7) / 8);

    public GroupwiseWeight(int bits, int groupSize, int outFeatures, int inFeatures, bool symmetric, int[] packed, float[] scales, byte[] zeros)
    {
        Check(bits, groupSize, inFeatures, null);
        Bits = bits;
        GroupSize = groupSize;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Symmetric = symmetric;
        long groups = (long)outFeatures * (inFeatures / groupSize);
        if (packed.Length != (long)outFeatures * inFeatures / (32 / bits) || scales.Length != groups || zeros.Length != groups)
            throw new ArgumentException($"group-wise weight [{outFeatures}, {inFeatures}] with {bits} bits, groups of {groupSize}: " +
                $"got {packed.Length} words, {scales.Length} scales, {zeros.Length} zero points.");
        Packed = packed;
        Scales = scales;
        Zeros = zeros;
    }

    /// <summary>Refuses a bit width, group size or input width the format cannot hold; <paramref name="layer"/> names the layer in the message.</summary>
    public static void Check(int bits, int groupSize, int inFeatures, string? layer)
    {
        if (bits is not (4 or 8))
            throw new ArgumentException($"group-wise weights have 4 or 8 bits, not {bits}.");
        if (groupSize < 8 || groupSize % 8 != 0)
            throw new ArgumentException($"group size {groupSize}: must be a positive multiple of 8 (whole int32 words of codes, whole SIMD vectors).");
        if (inFeatures % groupSize != 0)
            throw new ArgumentException($"{layer ?? "layer"}: input size {inFeatures} is not a multiple of the group size {groupSize}; choose a --group-size that divides it.");
    }

    /// <summary>
    /// Round-to-nearest of W [N, K] (row-major float32). Asymmetric: the group's range widened to include 0, scale
    /// (max − min) / (2^b − 1), zero point round(−min / scale). Symmetric: scale max|w| / (2^(b−1) − 1), codes
    /// clamped to [−2^(b−1), 2^(b−1) − 1] before the offset.
    /// </summary>
    public static GroupwiseWeight Quantize(ReadOnlySpan<float> w, int n, int k, int bits, int groupSize, bool symmetric)
    {
        Check(bits, groupSize, k, null);
        if (w.Length != (long)n * k) throw new ArgumentException($"weight has {w.Length} values, not {n}×{k}.");
        int groups = k / groupSize, perWord = 32 / bits, levels = (1 << bits) - 1, half = 1 << (bits - 1);
        var packed = new int[(long)n * k / perWord];
        var scales = new float[(long)n * groups];
        var zeros = new byte[(long)n * groups];
        var codes = new byte[groupSize];
        for (int row = 0; row < n; row++)
        for (int g = 0; g < groups; g++)
        {
            var group = w.Slice(row * k + g * groupSize, groupSize);
            float scale;
            int zero;
            if (symmetric)
            {
                float max = 0;
                foreach (var v in group) max = Math.Max(max, Math.Abs(v));
                scale = Math.Max(max, 1e-10f) / (half - 1);
                zero = half;
                for (int i = 0; i < groupSize; i++)
                    codes[i] = (byte)(Math.Clamp(MathF.Round(group[i] / scale), -half, half - 1) + half);
            }
            else
            {
                float min = 0, max = 0;
                foreach (var v in group) { min = Math.Min(min, v); max = Math.Max(max, v); }
                scale = Math.Max(max - min, 1e-10f) / levels;
                zero = (int)Math.Clamp(MathF.Round(-min / scale), 0, levels);
                for (int i = 0; i < groupSize; i++)
                    codes[i] = (byte)Math.Clamp(MathF.Round(group[i] / scale) + zero, 0, levels);
            }
            scales[row * groups + g] = scale;
            zeros[row * groups + g] = (byte)zero;
            int word0 = (row * k + g * groupSize) / perWord;
            for (int i = 0; i < groupSize; i++)
                packed[word0 + i / perWord] |= codes[i] << (bits * (i % perWord));
        }
        return new GroupwiseWeight(bits, groupSize, n, k, symmetric, packed, scales, zeros);
    }

    /// <summary>The code u[n, k].</summary>
    public int Code(int row, int col) => (Packed[(row * InFeatures + col) / CodesPerWord] >>> (Bits * (col % CodesPerWord))) & Mask;

    /// <summary>Rows [row0, row0 + rows) dequantized into <paramref name="dst"/> ([rows, K] row-major float32).</summary>
    public void Dequantize(Span<float> dst, int row0, int rows)
    {
        for (int r = 0; r < rows; r++)
        {
            int row = row0 + r;
            for (int g = 0; g < Groups; g++)
            {
                float s = Scales[row * Groups + g];
                int z = Zeros[row * Groups + g];
                for (int i = g * GroupSize; i < (g + 1) * GroupSize; i++)
                    dst[r * InFeatures + i] = (Code(row, i) - z) * s;
            }
        }
    }
}
