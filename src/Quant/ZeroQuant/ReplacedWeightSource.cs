using InferenceServer.Engine.Loading;
using static TorchSharp.torch;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>Serves the named tensors from <paramref name="replaced"/> (float32, on the CPU) and everything else from <paramref name="inner"/>.</summary>
public sealed class ReplacedWeightSource(IWeightSource inner, IReadOnlyDictionary<string, Tensor> replaced) : IWeightSource
{
    public bool Has(string name) => replaced.ContainsKey(name) || inner.Has(name);

    public Tensor Get(string name, long[] shape, ScalarType dtype, Device device, WeightInit init = WeightInit.Normal)
    {
        if (!replaced.TryGetValue(name, out var t)) return inner.Get(name, shape, dtype, device, init);
        if (!t.shape.SequenceEqual(shape))
            throw new ModelLoadException($"{name}: trained weight has shape [{string.Join(", ", t.shape)}], the model expects [{string.Join(", ", shape)}].");
        return t.to(dtype, device, copy: true);
    }
}
