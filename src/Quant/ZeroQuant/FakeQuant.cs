using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// Differentiable ("fake") quantization for LKD: the forward pass sees the quantized-dequantized values, the backward
/// pass the identity (straight-through estimator: w + (q(w) − w).detach()). Scales and zero points are computed from
/// the current weights exactly as <see cref="Kernels.GroupwiseWeight.Quantize"/> does, so the weights the last step
/// saw are the ones the kernel is built from.
/// </summary>
internal static class FakeQuant
{
    // Scalars live as long as the process, so none can be finalized while an op reads it (see Engine.Runtime.Scalars).
    private static readonly ConcurrentDictionary<double, Scalar> Cache = new();
    public static Scalar S(double v) => Cache.GetOrAdd(v, x => x.ToScalar());

    /// <param name="w">[N, K] float32, requires grad.</param>
    public static Tensor Weight(Tensor w, LayerScheme scheme)
    {
        long n = w.shape[0], k = w.shape[1];
        using var scope = NewDisposeScope();
        Tensor deq;
        using (no_grad())
        {
            var g = w.detach().view(n, k / scheme.GroupSize, scheme.GroupSize);                 // [N, groups, G]
            if (scheme.Symmetric)
            {
                int half = 1 << (scheme.WeightBits - 1);
                var s = g.abs().amax([-1L], keepdim: true).clamp_min(S(1e-10)).div(S(half - 1));
                deq = (g / s).round().clamp(S(-half), S(half - 1)).mul(s);
            }
            else
            {
                int levels = (1 << scheme.WeightBits) - 1;
                var min = g.amin([-1L], keepdim: true).clamp_max(S(0));
                var max = g.amax([-1L], keepdim: true).clamp_min(S(0));
                var s = (max - min).clamp_min(S(1e-10)).div(S(levels));
                var z = (min.neg() / s).round().clamp(S(0), S(levels));
                deq = ((g / s).round() + z).clamp(S(0), S(levels)).sub(z).mul(s);
            }
            deq = deq.view(n, k) - w.detach();
        }
        return (w + deq).MoveToOuterDisposeScope();
    }

    /// <param name="x">[..., K] float32: per-row (per-token) symmetric INT8, straight through.</param>
    public static Tensor Activations(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor delta;
        using (no_grad())
        {
            var d = x.detach();
            var s = d.abs().amax([-1L], keepdim: true).clamp_min(S(1e-8)).div(S(127));
            delta = (d / s).round().clamp(S(-127), S(127)).mul(s) - d;
        }
        return (x + delta).MoveToOuterDisposeScope();
    }
}
