namespace InferenceServer.Quant.Formats;

/// <summary>
/// One linear layer's weights W [N, K] in binary-coding form (BCQ), packed for LUT-GEMM:
/// <c>W[n, k] ≈ Σ_{i&lt;q} α[i, g, n] · b[i, n, k] + offset[g, n]</c> with b ∈ {−1, +1} and g = k / GroupSize.
/// Uniform round-to-nearest is the special case α[i] = scale·2^(i−1), offset = scale·((2^q − 1)/2 − zero), so one kernel
/// serves both uniform and non-uniform quantization.
/// </summary>
/// <remarks>
/// Layout (all little-endian, the same on the host and in the checkpoint, and what a CUDA kernel reads):
/// <list type="bullet">
/// <item><see cref="Signs"/>: uint32 [q, W, N], W = ceil(K / 32). Bit j of word [i, w, n] is b[i, n, 32w + j]
/// (1 → +1, 0 → −1); bits past K are 0. N is innermost so that consecutive output rows read consecutive words
/// (coalesced on a GPU, sequential on a CPU). Byte c mod 4 of word [i, c / 4, n] is the 8-sign chunk c, whose
/// value indexes the 256-entry table of chunk c directly.</item>
/// <item><see cref="Alpha"/>: float32 [q, G, N], G = ceil(K / GroupSize).</item>
/// <item><see cref="Offset"/>: float32 [G, N].</item>
/// </list>
/// GroupSize is a multiple of <see cref="ChunkSize"/>, so a table chunk never straddles two groups. K need not be a
/// multiple of the group size (the last group is shorter) nor of 8 (the last chunk is zero-padded).
/// Size: q·N·(4·ceil(K/32) + 4·G) + 4·G·N bytes, i.e. q + 32·(q + 1)/g bits per weight for K a multiple of g and 32:
/// 4.0 at q = 3, g = 128 (3 for the signs, 1 for the float32 scales and offset).
/// </remarks>
public sealed class BcqWeights
{
    /// <summary>Activations per lookup table: 8 signs address 256 precomputed ±sums.</summary>
    public const int ChunkSize = 8;
    public const int WordBits = 32;
    public const int MaxBits = 4;

    public int OutFeatures { get; }
    public int InFeatures { get; }
    public int Bits { get; }
    public int GroupSize { get; }
    /// <summary>[Bits, Words, OutFeatures] sign bits.</summary>
    public uint[] Signs { get; }
    /// <summary>[Bits, Groups, OutFeatures] scale of each bit-plane per group.</summary>
    public float[] Alpha { get; }
    /// <summary>[Groups, OutFeatures] additive term per group.</summary>
    public float[] Offset { get; }

    public int Words => WordsFor(InFeatures);
    public int Groups => GroupsFor(InFeatures, GroupSize);
    public int Chunks => (InFeatures + ChunkSize - 1) / ChunkSize;

    /// <summary>Bytes of the packed signs, scales and offsets.</summary>
    public long Bytes => 4L * (Signs.Length + Alpha.Length + Offset.Length);

    public BcqWeights(int outFeatures, int inFeatures, int bits, int groupSize, uint[] signs, float[] alpha, float[] offset)
    {
        Validate(outFeatures, inFeatures, bits, groupSize);
        long words = (long)bits * WordsFor(inFeatures) * outFeatures, scales = (long)bits * GroupsFor(inFeatures, groupSize) * outFeatures;
        long offsets = (long)GroupsFor(inFeatures, groupSize) * outFeatures;
        if (signs.LongLength != words)
            throw new ArgumentException($"BCQ signs hold {signs.LongLength} words; [{bits}, {WordsFor(inFeatures)}, {outFeatures}] needs {words}.");
        if (alpha.LongLength != scales)
            throw new ArgumentException($"BCQ alpha holds {alpha.LongLength} values; [{bits}, {GroupsFor(inFeatures, groupSize)}, {outFeatures}] needs {scales}.");
        if (offset.LongLength != offsets)
            throw new ArgumentException($"BCQ offset holds {offset.LongLength} values; [{GroupsFor(inFeatures, groupSize)}, {outFeatures}] needs {offsets}.");
        (OutFeatures, InFeatures, Bits, GroupSize, Signs, Alpha, Offset) = (outFeatures, inFeatures, bits, groupSize, signs, alpha, offset);
    }

    public static int WordsFor(int inFeatures) => (inFeatures + WordBits - 1) / WordBits;
    public static int GroupsFor(int inFeatures, int groupSize) => (inFeatures + groupSize - 1) / groupSize;

    /// <summary>The shape rules of the format; a violation is an <see cref="ArgumentException"/> naming the value.</summary>
    public static void Validate(int outFeatures, int inFeatures, int bits, int groupSize)
    {
        if (outFeatures < 1 || inFeatures < 1)
            throw new ArgumentException($"BCQ weights need a positive shape (got [{outFeatures}, {inFeatures}]).");
        if (bits is < 1 or > MaxBits)
            throw new ArgumentException($"BCQ bits {bits}: expected 1 to {MaxBits}.");
        if (groupSize < ChunkSize || groupSize % ChunkSize != 0)
            throw new ArgumentException($"BCQ group size {groupSize}: expected a positive multiple of {ChunkSize}.");
    }

    /// <summary>b[i, n, k] as ±1.</summary>
    public float Sign(int plane, int n, int k) =>
        (Signs[((long)plane * Words + k / WordBits) * OutFeatures + n] >> (k % WordBits) & 1) != 0 ? 1f : -1f;

    /// <summary>The weight the format represents, Σ_i α·b + offset, summed in plane order in float32.</summary>
    public float Weight(int n, int k)
    {
        int g = k / GroupSize;
        float w = 0;
        for (int i = 0; i < Bits; i++) w += Alpha[((long)i * Groups + g) * OutFeatures + n] * Sign(i, n, k);
        return w + Offset[(long)g * OutFeatures + n];
    }

    /// <summary>The represented weights [N, K] row-major (tests and the dequantize-then-matmul baseline).</summary>
    public float[] Dequantize()
    {
        var w = new float[(long)OutFeatures * InFeatures];
        Parallel.For(0, OutFeatures, n =>
        {
            for (int k = 0; k < InFeatures; k++) w[(long)n * InFeatures + k] = Weight(n, k);
        });
        return w;
    }
}
