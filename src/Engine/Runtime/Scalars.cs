using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runtime;

/// <summary>
/// Long-lived TorchSharp scalars. An implicitly converted Scalar (the alpha of <c>a + b</c>, the 2 of <c>t + 2</c>)
/// is a temporary whose finalizer frees its native value; the JIT may let it die while the native op still reads it,
/// and under GC pressure the op then sees garbage ("Expected false to be true" from c10::Scalar::toFloat). Scalars
/// held in static or instance fields cannot be collected, so the forward path uses these and the helpers below.
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

    /// <summary>a + b for floating tensors, with a kept-alive alpha.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, is_integral(a.dtype) ? OneL : OneF);

    /// <summary>a += b in place with a kept-alive alpha.</summary>
    public static Tensor AddInPlace(Tensor a, Tensor b) => a.add_(b, is_integral(a.dtype) ? OneL : OneF);
}
