using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>Passes every call to <paramref name="inner"/> and keeps each linear layer's spec and kernel (for writing them out).</summary>
public sealed class CapturingQuantMethod(IQuantMethod inner) : IQuantMethod
{
    private readonly List<(LinearSpec Spec, ILinearKernel Kernel)> _layers = [];

    public IReadOnlyList<(LinearSpec Spec, ILinearKernel Kernel)> Layers => _layers;
    public IQuantMethod Inner => inner;
    public string Name => inner.Name;
    public bool AppliesTo(LinearSpec spec) => inner.AppliesTo(spec);

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias) => Keep(spec, inner.Create(spec, weight, bias));
    public ILinearKernel CreateDummy(LinearSpec spec) => Keep(spec, inner.CreateDummy(spec));
    public ILinearKernel? LoadPrequantized(LinearSpec spec, IWeightSource weights) =>
        inner.LoadPrequantized(spec, weights) is { } k ? Keep(spec, k) : null;

    private ILinearKernel Keep(LinearSpec spec, ILinearKernel kernel)
    {
        _layers.Add((spec, kernel));
        return kernel;
    }
}
