using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// A linear layer that reads INT8 activations with one scale per token (W8A8). The kernel that produces its input
/// (RMSNorm, SiLU·mul) can then quantize as it writes, so no separate pass over the activations remains.
/// </summary>
public interface IQuantizedInputLinear : ILinearKernel
{
    /// <summary>True when <see cref="ForwardQuantized"/> runs here (CUDA with the native library).</summary>
    bool AcceptsQuantizedInput { get; }

    /// <summary>The calibrated per-tensor activation scale, or null for per-token dynamic scales.</summary>
    float? StaticActScale { get; }

    /// <param name="xq">[T, in] int8.</param>
    /// <param name="xScale">[T] float32: x ≈ xq · xScale[t].</param>
    /// <returns>[T, out] in <paramref name="outDtype"/>.</returns>
    Tensor ForwardQuantized(Tensor xq, Tensor xScale, ScalarType outDtype);
}

public static class QuantizedInputLinearExtensions
{
    /// <summary><see cref="IQuantizedInputLinear.ForwardQuantized"/> on a freshly quantized input, which it then frees.</summary>
    /// <param name="input">INT8 [T, in] and its scales [T], as a fused producer returns them.</param>
    public static Tensor ForwardQuantized(this IQuantizedInputLinear linear, (Tensor Q, Tensor Scale) input, ScalarType outDtype)
    {
        using (input.Q)
        using (input.Scale)
            return linear.ForwardQuantized(input.Q, input.Scale, outDtype);
    }
}
