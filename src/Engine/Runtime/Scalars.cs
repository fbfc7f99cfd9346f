using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runtime;

/// <summary>
/// Long-lived TorchSharp scalars. An implicitly converted Scalar (the alpha of <c>a + b</c>, the 2 of <c>t + 2</c>)
/// is a temporary whose finalizer frees its native value; the JIT may let it die while the native op still reads it,
/// and under GC pressure the op then sees garbage ("Expected false to be true" from c10::Scalar::toFloat, or a
/// segmentation fault). Scalars held in static or instance fields cannot be collected, so code uses these and the
/// helpers below; src/Analyzers (IS0001, IS0002) refuses to build a temporary one.
/// </summary>
public static class Scalars
{
    public static readonly Scalar OneF = 1.0.ToScalar();
    public static readonly Scalar OneL = 1L.ToScalar();
    public static readonly Scalar ZeroF = 0.0.ToScalar();
    public static readonly Scalar ZeroL = 0L.ToScalar();
    /// <summary>The standard deviation of random (dummy) weights, as HF's initializer_range.</summary>
    public static readonly Scalar InitStd = 0.02.ToScalar();
    public static readonly Scalar NegInfF = float.NegativeInfinity.ToScalar();

    /// <summary>
    /// The float Scalar of a constant or a configuration value (an epsilon, a quantization level), made once and kept
    /// for the life of the process. Values that vary per request take a using local instead, so this cache stays small.
    /// </summary>
    public static Scalar Of(double value) => Constants.GetOrAdd(value, MakeConstant);

    private static readonly ConcurrentDictionary<double, Scalar> Constants = new();

#pragma warning disable IS0001 // kept: the cache above holds every Scalar made here
    private static Scalar MakeConstant(double value) => value.ToScalar();
#pragma warning restore IS0001

    /// <summary>a + b, integral or floating, with a kept-alive alpha.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, is_integral(a.dtype) ? OneL : OneF);

    /// <summary>a += b in place with a kept-alive alpha.</summary>
    public static Tensor AddInPlace(Tensor a, Tensor b) => a.add_(b, is_integral(a.dtype) ? OneL : OneF);

    /// <summary>[start, stop) as a 1-D tensor, its bounds kept alive through the call.</summary>
    public static Tensor Arange(long start, long stop, ScalarType dtype, Device device)
    {
        using Scalar from = start.ToScalar(), to = stop.ToScalar();
        return arange(from, to, dtype, device);
    }

    /// <summary>[0, stop) as a 1-D tensor, its bound kept alive through the call.</summary>
    public static Tensor Arange(long stop, ScalarType dtype, Device device)
    {
        using var to = stop.ToScalar();
        return arange(to, dtype, device);
    }
}
