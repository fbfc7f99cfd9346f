using InferenceServer.Engine.Loading;
using static TorchSharp.torch;

namespace InferenceServer.Quant.SmoothQuant;

/// <summary>
/// Applies a <see cref="SmoothingPlan"/> while weights load: norm weight and bias [H] divided by s, consumer
/// weights W [out, H] multiplied column-wise by s. Computed in float32, then cast to the requested dtype.
/// </summary>
public sealed class SmoothingWeightSource(IWeightSource inner, SmoothingPlan plan) : IWeightSource
{
    public bool Has(string name) => inner.Has(name);

    public Tensor Get(string name, long[] shape, ScalarType dtype, Device device, WeightInit init = WeightInit.Normal)
    {
        if (plan.Classify(name) is not var (key, isNorm))
            return inner.Get(name, shape, dtype, device, init);
        using var scope = NewDisposeScope();
        var w = inner.Get(name, shape, ScalarType.Float32, device, init);
        var s = tensor(plan.Scales[key], ScalarType.Float32, device);                  // [H]
        var smoothed = isNorm ? w / s : w * s.unsqueeze(0);                              // [H] or [out, H]
        return smoothed.to(dtype).MoveToOuterDisposeScope();
    }
}
