using TorchSharp;
using static TorchSharp.torch;
using static InferenceServer.Engine.Runtime.Scalars;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// Differentiable ("fake") quantization for LKD: the forward pass sees the quantized-dequantized values, the backward
/// pass the identity (straight-through estimator: w + (q(w) − w).detach()). Scales and zero points are computed from
/// the current weights exactly as <see cref="Kernels.GroupwiseWeight.Quantize"/> does, so the weights the last step
/// saw are the ones the kernel is built from.
/// </summary>
internal static class FakeQuant
{

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
                var s = g.abs().amax([-1L], keepdim: true).clamp_min(Of(1e-10)).div(Of(half - 1));
                deq = (g / s).round().clamp(Of(-half), Of(half - 1)).mul(s);
            }
            else
            {
                int levels = (1 << scheme.WeightBits) - 1;
                var min = g.amin([-1L], keepdim: true).clamp_max(Of(0));
                var max = g.amax([-1L], keepdim: true).clamp_min(Of(0));
                var s = (max - min).clamp_min(Of(1e-10)).div(Of(levels));
                var z = (min.neg() / s).round().clamp(Of(0), Of(levels));
                deq = Add((g / s).round(), z).clamp(Of(0), Of(levels)).sub(z).mul(s);
            }
            deq = deq.view(n, k) - w.detach();
        }
        return Add(w, deq).MoveToOuterDisposeScope();
    }

    /// <param name="x">[..., K] float32: per-row (per-token) symmetric INT8, straight through.</param>
    public static Tensor Activations(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor delta;
        using (no_grad())
        {
            var d = x.detach();
            var s = d.abs().amax([-1L], keepdim: true).clamp_min(Of(1e-8)).div(Of(127));
            delta = (d / s).round().clamp(Of(-127), Of(127)).mul(s) - d;
        }
        return Add(x, delta).MoveToOuterDisposeScope();
    }
}
