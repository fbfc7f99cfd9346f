using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// The weights of one linear layer in some storage format, and the matmul that reads them.
/// It owns its tensors. <c>y = x Wᵀ + b</c> with x [T, in] in the serving dtype, y [T, out] in the serving dtype.
/// </summary>
public interface ILinearKernel : IDisposable
{
    int InFeatures { get; }
    int OutFeatures { get; }

    /// <summary>Bytes of weight storage (quantized values plus scales), the figure quantization shrinks.</summary>
    long WeightBytes { get; }

    Tensor Forward(Tensor x);
}
