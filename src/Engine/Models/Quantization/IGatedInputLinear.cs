using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// A linear layer that can take the gated MLP's gate_up output and apply silu(gate)·up itself, as the gated MLP's
/// down projection, so no separate activation kernel runs before it.
/// </summary>
public interface IGatedInputLinear : ILinearKernel
{
    /// <summary>True when <see cref="ForwardGated"/> runs here (CUDA with the native library).</summary>
    bool AcceptsGatedInput { get; }

    /// <param name="gateUp">[T, 2·InFeatures] in the serving dtype: gate, then up.</param>
    /// <returns>[T, OutFeatures] = Forward(silu(gate)·up), the same values.</returns>
    Tensor ForwardGated(Tensor gateUp);
}
