using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Calibration;
using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Quant.SmoothQuant;

/// <summary>
/// <c>--quantization smoothquant</c> (smoothing, then W8A8) and <c>--quantization w8a8</c> (W8A8 alone): every
/// decoder linear layer gets INT8 weights (per output channel) and INT8 activations (per token, or per tensor from
/// calibration). lm_head and embeddings are not linear layers of the builder and stay in the serving dtype.
/// </summary>
public sealed class W8A8Method : ICalibratedQuantMethod
{
    private readonly bool _smooth;
    private readonly ActivationStats? _stats;
    private readonly SmoothingPlan? _plan;

    public W8A8Method(bool smooth, W8A8Options options, ActivationStats? stats = null, SmoothingPlan? plan = null)
    {
        _smooth = smooth;
        Options = options;
        _stats = stats;
        _plan = plan;
    }

    public string Name => _smooth ? "smoothquant" : "w8a8";
    public W8A8Options Options { get; }
    public SmoothingPlan? Plan => _plan;
    public bool NeedsCalibration => _smooth || Options.ActScales == ActScaleMode.Static;
    public (int Samples, int SequenceLength) CalibrationShape => (Options.CalibrationSamples, Options.CalibrationSequenceLength);

    public bool AppliesTo(LinearSpec spec) => true;

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias) =>
        W8A8LinearKernel.Quantize(weight, bias, StaticScale(spec.Name), spec.Kernels);

    public ILinearKernel CreateDummy(LinearSpec spec) => W8A8LinearKernel.Random(spec.OutFeatures, spec.InFeatures,
        spec.HasBias ? zeros([spec.OutFeatures], spec.Dtype, spec.Device) : null,
        Options.ActScales == ActScaleMode.Static ? 0.05f : null, spec.Device, spec.Kernels);

    public ModelOptions Calibrate(ModelConfig config, ModelOptions options, IReadOnlyList<int> calibrationStream, Action<int, int>? progress = null)
    {
        if (!NeedsCalibration || options.LoadFormat == "dummy") return options with { Quantization = this };
        var stats = CalibrationRunner.Run(config, options, calibrationStream, Options.CalibrationSamples, Options.CalibrationSequenceLength, progress);
        return WithStats(config, options, stats);
    }

    /// <summary>The options to load the quantized model with, from calibration statistics gathered earlier (one calibration can serve several settings).</summary>
    public ModelOptions WithStats(ModelConfig config, ModelOptions options, ActivationStats stats)
    {
        if (!_smooth)
            return options with { Quantization = new W8A8Method(false, Options, stats) };
        var plan = SmoothingPlan.Build(config, stats, Options.Alpha ?? W8A8Options.DefaultAlpha(config));
        var inner = options.WeightTransform;
        return options with
        {
            Quantization = new W8A8Method(true, Options, stats, plan),
            WeightTransform = w => new SmoothingWeightSource(inner is null ? w : inner(w), plan),
        };
    }

    /// <summary>
    /// Per-tensor scale abs-max(X)/127 for static mode. For a smoothed layer X is x/s, whose abs-max is
    /// max_j(max|x_j| / s_j), so the pre-smoothing statistics suffice.
    /// </summary>
    private float? StaticScale(string name)
    {
        if (Options.ActScales != ActScaleMode.Static) return null;
        if (_stats is null || !_stats.InputAbsMax.TryGetValue(name, out var xMax))
            throw new InvalidOperationException($"{Name} with static activation scales has no calibration for {name}; run Calibrate first.");
        float[]? s = null;
        _plan?.Scales.TryGetValue(name, out s);
        float m = 0;
        for (int j = 0; j < xMax.Length; j++) m = Math.Max(m, s is null ? xMax[j] : xMax[j] / s[j]);
        return Math.Max(m, 1e-5f) / 127;
    }
}
