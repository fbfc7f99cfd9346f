using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// A projection whose output is a block's residual branch (o_proj, down_proj), where the layer can also add that
/// output into the residual stream and apply the next RMSNorm in the same kernel, so the [T, N] projection is not
/// written and no norm kernel runs. The values are the projection's, then <see cref="Layers.RmsNorm.AddForwardInto"/>'s
/// add and norm (its sum of squares may be added in another order).
/// </summary>
public interface IAddNormLinear : ILinearKernel
{
    /// <summary>True when <see cref="ForwardAddNorm"/> runs here (CUDA with the native library).</summary>
    bool FusesAddNorm { get; }

    /// <summary>residual += x·Wᵀ + b, in place; returns RMSNorm(residual)·<paramref name="normWeight"/>.</summary>
    /// <param name="x">[T, K] in the serving dtype.</param>
    /// <param name="residual">[T, N] residual stream, updated in place.</param>
    /// <param name="normWeight">[N] the next norm's weight.</param>
    /// <returns>[T, N] the normalised residual.</returns>
    Tensor ForwardAddNorm(Tensor x, Tensor residual, Tensor normWeight, double eps);
}
