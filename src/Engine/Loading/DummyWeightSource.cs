using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Loading;

/// <summary>
/// Random weights for <c>--load-format dummy</c>: real shapes, no files beyond config.json. Each tensor is made
/// directly on the device in the serving dtype, so nothing larger than one tensor exists on the host.
/// </summary>
public sealed class DummyWeightSource : IWeightSource
{
    private readonly Scalar _std;   // a field, so the scalar outlives every op that reads it

    public DummyWeightSource(long seed = 0, double std = 0.02)
    {
        _std = std.ToScalar();
        manual_seed(seed);
    }

    public bool Has(string name) => true;

    public Tensor Get(string name, long[] shape, ScalarType dtype, Device device, WeightInit init = WeightInit.Normal)
    {
        switch (init)
        {
            case WeightInit.Ones:
                return ones(shape, dtype, device);
            case WeightInit.Zeros:
                return zeros(shape, dtype, device);
            default:
                // Made on the device itself: a 70B model's worth of host-side random numbers would take minutes.
                return randn(shape, dtype, device).mul_(_std);
        }
    }
}
