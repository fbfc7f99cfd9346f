using InferenceServer.Engine.Loading;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Layers;

/// <summary>
/// Rotary position embedding in the "rotate half" layout of HF Llama, with default, linear and llama3 frequency
/// scaling. cos/sin are precomputed in float32 for every position up to the maximum length and gathered per token.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _cos; // [maxPos, D] float32
    private readonly Tensor _sin; // [maxPos, D] float32

    public RotaryEmbedding(int headDim, int maxPositions, RopeScaling rope, Device device)
    {
        var invFreq = InverseFrequencies(headDim, rope);
        using var scope = NewDisposeScope();
        var t = arange(maxPositions, ScalarType.Float32);
        var freqs = outer(t, tensor(invFreq));             // [maxPos, D/2]
        var emb = cat([freqs, freqs], -1);                  // [maxPos, D]
        _cos = emb.cos().to(device).MoveToOuterDisposeScope();
        _sin = emb.sin().to(device).MoveToOuterDisposeScope();
    }

    /// <summary>θ_i = base^(-2i/D), then rescaled per the config's rope type (computed in double, stored as float).</summary>
    public static float[] InverseFrequencies(int headDim, RopeScaling rope)
    {
        var inv = new float[headDim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            // Same arithmetic as transformers: base ** (arange(0, D, 2, int64).float() / D), in float32.
            float exponent = (float)(2 * i) / headDim;
            float f = 1.0f / MathF.Pow((float)rope.Theta, exponent);
            inv[i] = rope.Type switch
            {
                "linear" => f / (float)rope.Factor,
                "llama3" => Llama3Scale(f, rope),
                _ => f,
            };
        }
        return inv;
    }

    // Llama 3.1: keep high frequencies, divide low frequencies by the factor, blend in between.
    private static float Llama3Scale(float invFreq, RopeScaling r)
    {
        double lowFreqWavelen = r.OriginalMaxPositionEmbeddings / r.LowFreqFactor;
        double highFreqWavelen = r.OriginalMaxPositionEmbeddings / r.HighFreqFactor;
        double wavelen = 2 * Math.PI / invFreq;
        if (wavelen < highFreqWavelen) return invFreq;
        if (wavelen > lowFreqWavelen) return invFreq / (float)r.Factor;
        double smooth = (r.OriginalMaxPositionEmbeddings / wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor);
        return (float)((1 - smooth) * invFreq / r.Factor + smooth * invFreq);
    }

    /// <summary>Gathers (cos, sin) [T, 1, D] in <paramref name="dtype"/> for the given positions [T].</summary>
    public (Tensor Cos, Tensor Sin) ForPositions(Tensor positions, ScalarType dtype) =>
        (_cos.index_select(0, positions).unsqueeze(1).to(dtype), _sin.index_select(0, positions).unsqueeze(1).to(dtype));

    /// <summary>x [T, heads, D] → x·cos + rotate_half(x)·sin.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat([x2.neg(), x1], -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
