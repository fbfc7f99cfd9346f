using InferenceServer.Engine.Models.Quantization;
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
        // xf·xf, not square(): TorchSharp's square() is pow with a temporary Scalar the GC may free mid-op.
        var normed = xf * (xf * xf).mean([-1L], keepdim: true).add(_eps, Scalars.OneF).rsqrt();
        return (Weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// linear(RMSNorm(x)). On CUDA a W8A8 consumer gets INT8 straight from the norm kernel (per-token scales), so the
    /// normalised activations are never written in the serving dtype.
    /// </summary>
    public Tensor ForwardInto(ILinearKernel linear, Tensor x)
    {
        if (kernels is null || linear is not IQuantizedInputLinear { AcceptsQuantizedInput: true } q) return linear.Forward(Forward(x));
        return q.ForwardQuantized(kernels.RmsNormQuant(x, Weight, Eps, q.StaticActScale), x.dtype);
    }

    /// <summary>residual += delta (in place), then RMSNorm(residual): one launch on CUDA.</summary>
    /// <param name="residual">[T, H] residual stream, updated in place.</param>
    /// <param name="delta">[T, H] output of the previous sublayer.</param>
    public Tensor AddForward(Tensor residual, Tensor delta)
    {
        if (kernels is not null) return kernels.AddRmsNorm(residual, delta, Weight, Eps);
        Scalars.AddInPlace(residual, delta);
        return Forward(residual);
    }

    /// <summary>
    /// residual += delta (in place), then linear(RMSNorm(residual)): the previous sublayer's residual add folded into
    /// this norm, one launch on CUDA. A null delta is a plain <see cref="ForwardInto"/>.
    /// </summary>
    /// <param name="residual">[T, H] residual stream, updated in place.</param>
    /// <param name="delta">[T, H] output of the previous sublayer, or null.</param>
    public Tensor AddForwardInto(ILinearKernel linear, Tensor residual, Tensor? delta)
    {
        if (delta is null) return ForwardInto(linear, residual);
        if (kernels is not null && linear is IQuantizedInputLinear { AcceptsQuantizedInput: true } q)
            return q.ForwardQuantized(kernels.AddRmsNormQuant(residual, delta, Weight, Eps, q.StaticActScale), residual.dtype);
        using var normed = AddForward(residual, delta);
        return linear.Forward(normed);
    }

    public void Dispose() => Weight.Dispose();
}
