using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// The gated MLP's gate/up projection, W = [gate; up] ([2I, H]), where the layer can also give the activation
/// silu(x·gateᵀ)·(x·upᵀ) [T, I] straight from its kernel, so the [T, 2I] projection is not written and no activation
/// kernel runs. The values are the projection's, then <see cref="Layers.SiluAndMul"/>'s.
/// </summary>
public interface IGatedMlpLinear : ILinearKernel
{
    /// <summary>True when <see cref="Activation"/> runs here (CUDA with the native library).</summary>
    bool ProducesActivation { get; }

    /// <summary>This layer seen as x [T, H] → silu(gate)·up [T, I] (owned by the layer: disposing it does nothing).</summary>
    ILinearKernel Activation { get; }
}
