using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// Adam with torch.optim.Adam's defaults (β = (0.9, 0.999), ε = 1e-8, no weight decay) and its single-tensor update:
/// m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε).
/// </summary>
/// <remarks>
/// TorchSharp's own Adam passes its coefficients as temporary Scalars, which the garbage collector may free while
/// libtorch reads them (see Engine.Runtime.Scalars); here every coefficient is a field or a using local, and each step
/// runs in a dispose scope so no intermediate tensor is left to a finalizer.
/// </remarks>
internal sealed class AdamOptimizer : IDisposable
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    private readonly Tensor[] _parameters;
    private readonly Tensor[] _m, _v;      // first and second moments, each shaped like its parameter
    private readonly double _learningRate;
    private readonly Scalar _beta1 = Beta1.ToScalar(), _oneMinusBeta1 = (1 - Beta1).ToScalar();
    private readonly Scalar _beta2 = Beta2.ToScalar(), _oneMinusBeta2 = (1 - Beta2).ToScalar();
    private readonly Scalar _epsilon = Epsilon.ToScalar();
    private int _step;

    public AdamOptimizer(Tensor[] parameters, double learningRate)
    {
        _parameters = parameters;
        _learningRate = learningRate;
        _m = [.. parameters.Select(p => zeros_like(p))];
        _v = [.. parameters.Select(p => zeros_like(p))];
    }

    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            using var g = p.grad;
            g?.zero_();
        }
    }

    /// <summary>One update from the gradients that the last backward pass left on the parameters.</summary>
    public void Step()
    {
        _step++;
        double correction1 = 1 - Math.Pow(Beta1, _step), correction2 = 1 - Math.Pow(Beta2, _step);
        using Scalar stepSize = (-_learningRate / correction1).ToScalar(), rootCorrection2 = Math.Sqrt(correction2).ToScalar();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var g = _parameters[i].grad;
            if (g is null) continue;
            _m[i].mul_(_beta1).add_(g, _oneMinusBeta1);
            _v[i].mul_(_beta2).addcmul_(g, g, _oneMinusBeta2);
            var denominator = _v[i].sqrt().div_(rootCorrection2).add_(_epsilon, Scalars.OneF);
            _parameters[i].addcdiv_(_m[i], denominator, stepSize);
        }
    }

    public void Dispose()
    {
        foreach (var t in _m.Concat(_v)) t.Dispose();
        foreach (var s in new[] { _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _epsilon }) s.Dispose();
    }
}
