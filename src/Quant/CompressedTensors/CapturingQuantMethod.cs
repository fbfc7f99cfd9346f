using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>Passes every call to <paramref name="inner"/> and keeps each linear layer's spec and kernel, and the specs it skips (for writing them out).</summary>
public sealed class CapturingQuantMethod(IQuantMethod inner) : IQuantMethod
{
    private readonly List<(LinearSpec Spec, ILinearKernel Kernel)> _layers = [];

    private readonly List<LinearSpec> _skipped = [];

    public IReadOnlyList<(LinearSpec Spec, ILinearKernel Kernel)> Layers => _layers;
    /// <summary>Layers the method left in full precision (AppliesTo false): a checkpoint lists them under "ignore".</summary>
    public IReadOnlyList<LinearSpec> Skipped => _skipped;
    public IQuantMethod Inner => inner;
    public string Name => inner.Name;
    public bool AppliesTo(LinearSpec spec)
    {
        if (inner.AppliesTo(spec)) return true;
        _skipped.Add(spec);
        return false;
    }

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
