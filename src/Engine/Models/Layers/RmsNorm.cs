using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Layers;

/// <summary>
/// RMSNorm as transformers computes it: normalise in float32, cast back to the input dtype, then scale.
/// </summary>
public sealed class RmsNorm(Tensor weight, double eps, Kernels.NativeKernels? kernels = null) : IDisposable
{
    public Tensor Weight { get; } = weight;
    private readonly TorchSharp.Scalar _eps = eps.ToScalar(); // a field, so it outlives every op that reads it
    public double Eps { get; } = eps;

    /// <param name="x">[T, H] in the serving dtype.</param>
    public Tensor Forward(Tensor x)
    {
        if (kernels is not null) return kernels.RmsNorm(x, Weight, Eps);
        using var scope = NewDisposeScope();
        var xf = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        var normed = xf * xf.square().mean([-1L], keepdim: true).add(_eps, Scalars.OneF).rsqrt();
        return (Weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }

    public void Dispose() => Weight.Dispose();
}
