using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
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

    private readonly Kernels.NativeKernels? _kernels;

    public RotaryEmbedding(int headDim, int maxPositions, RopeScaling rope, Device device, Kernels.NativeKernels? kernels = null)
    {
        _kernels = kernels;
        var invFreq = InverseFrequencies(headDim, rope);
        using var scope = NewDisposeScope();
        var t = Scalars.Arange(maxPositions, ScalarType.Float32, CPU);
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

    /// <summary>What a step's layers need: positions [T], and for the portable path cos/sin [T, 1, D] gathered once.</summary>
    public sealed record StepInputs(Tensor Positions, Tensor? Cos, Tensor? Sin);

    public StepInputs Prepare(Tensor positions, ScalarType dtype)
    {
        if (_kernels is not null) return new StepInputs(positions, null, null);
        var (cos, sin) = ForPositions(positions, dtype);
        return new StepInputs(positions, cos, sin);
    }

    /// <summary>
    /// Splits qkv [T, (H + 2KV)·D] into rotated q [T, H, D], rotated k [T, KV, D] and v [T, KV, D]. The fused kernel
    /// rotates q and k in place (one launch); the portable path builds rotated copies.
    /// </summary>
    public (Tensor Q, Tensor K, Tensor V) SplitAndRotate(Tensor qkv, StepInputs step, int heads, int kvHeads, int headDim)
    {
        long t = qkv.shape[0];
        int q = heads * headDim, kv = kvHeads * headDim;
        return (Apply(qkv.narrow(1, 0, q).view(t, heads, headDim), step.Cos!, step.Sin!),
                Apply(qkv.narrow(1, q, kv).view(t, kvHeads, headDim), step.Cos!, step.Sin!),
                qkv.narrow(1, q + kv, kv).reshape(t, kvHeads, headDim));
    }

    /// <summary>True when <see cref="SplitRotateAndCache"/> can store keys and values while it rotates (native kernels).</summary>
    public bool FusesCacheWrite => _kernels is not null;

    /// <summary>
    /// <see cref="SplitAndRotate"/>, and each token's rotated keys and values stored at its slot of the layer's caches
    /// [num_slots, KV, D] in the same launch. Needs <see cref="FusesCacheWrite"/>.
    /// </summary>
    public (Tensor Q, Tensor K, Tensor V) SplitRotateAndCache(Tensor qkv, StepInputs step, int heads, int kvHeads, int headDim, Tensor kCache, Tensor vCache, Tensor slots)
    {
        long t = qkv.shape[0];
        int q = heads * headDim, kv = kvHeads * headDim;
        _kernels!.RotaryQkCache(qkv, step.Positions, _cos, _sin, heads, kvHeads, headDim, kCache, vCache, slots);
        return (qkv.narrow(1, 0, q).view(t, heads, headDim), qkv.narrow(1, q, kv).view(t, kvHeads, headDim), qkv.narrow(1, q + kv, kv).view(t, kvHeads, headDim));
    }

    /// <summary>
    /// Attention over qkv [T, (H + 2·KV)·D] with the rotation and cache write done by the backend's decode kernel, when
    /// both the native kernels and the backend can (<see cref="IAttentionBackend.AttendDecodeRotating"/>) → [T, H·D];
    /// null otherwise.
    /// </summary>
    public Tensor? AttendDecode(IAttentionBackend attention, int layer, Tensor qkv, StepInputs step, ForwardBatch batch, KvCachePool cache) =>
        _kernels is null ? null : attention.AttendDecodeRotating(layer, qkv, step.Positions, _cos, _sin, batch, cache);

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
        return Scalars.Add(x * cos, rotated * sin).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
