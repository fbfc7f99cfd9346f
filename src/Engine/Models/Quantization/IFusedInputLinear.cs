using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// A linear layer that computes its input from the operands of the kernel that would produce it (the gated MLP's
/// activation, the RMSNorm before a projection), so that kernel does not run. The values are that kernel's.
/// </summary>
public interface IFusedInputLinear : ILinearKernel
{
    /// <summary>True when <see cref="ForwardGated"/> and <see cref="ForwardNormed"/> run here (CUDA with the native library).</summary>
    bool AcceptsFusedInput { get; }

    /// <param name="gateUp">[T, 2·InFeatures] in the serving dtype: gate, then up.</param>
    /// <returns>[T, OutFeatures] = Forward(silu(gate)·up), bit-equal.</returns>
    Tensor ForwardGated(Tensor gateUp);

    /// <summary>
    /// residual += delta (in place, when delta is given), then Forward(RMSNorm(residual)·normWeight) as
    /// <see cref="Layers.RmsNorm"/> computes it.
    /// </summary>
    /// <param name="residual">[T, InFeatures] in the serving dtype.</param>
    /// <param name="delta">[T, InFeatures] the previous sublayer's output, or null.</param>
    /// <param name="normWeight">[InFeatures] the norm's weight.</param>
    /// <returns>[T, OutFeatures].</returns>
    Tensor ForwardNormed(Tensor residual, Tensor? delta, Tensor normWeight, double eps);
}
