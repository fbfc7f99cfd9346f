using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// <c>--quantization zeroquant</c>: group-wise 4- or 8-bit weights (asymmetric with a zero point, or symmetric),
/// activations unquantized (W4A16) or INT8 per token (A8), the scheme chosen per layer (mixed precision, overrides).
/// With <c>--lkd-steps</c> &gt; 0, layer-by-layer knowledge distillation trains the weights before they are
/// quantized (<see cref="LayerwiseDistillation"/>); otherwise they are rounded to nearest. lm_head and embeddings are
/// not linear layers of the builder and stay in the serving dtype.
/// </summary>
public sealed class ZeroQuantMethod(ZeroQuantOptions options) : ICalibratedQuantMethod
{
    public const string MethodName = "zeroquant";

    public string Name => MethodName;
    public ZeroQuantOptions Options => options;
    public bool NeedsCalibration => options.Lkd.Steps > 0;
    public (int Samples, int SequenceLength) CalibrationShape => (options.Lkd.Samples, options.Lkd.SequenceLength);

    /// <summary>Where LKD writes its per-block losses (the CLI's log); null drops them.</summary>
    public Action<string>? Log { get; set; }

    public bool AppliesTo(LinearSpec spec) => options.SchemeFor(spec) is not null;

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias)
    {
        var scheme = Scheme(spec);
        using (weight)
        {
            using var w = weight.to(ScalarType.Float32).cpu().contiguous();
            var gw = GroupwiseWeight.Quantize(w.data<float>().ToArray(), spec.OutFeatures, spec.InFeatures, scheme.WeightBits, scheme.GroupSize, scheme.Symmetric);
            return new GroupwiseLinearKernel(gw, scheme.ActivationBits, bias, spec.Device, spec.Kernels, spec.Name);
        }
    }

    /// <summary>Random codes made directly in the packed format (no float copy; on CUDA, on the device): w ≈ N(0, 0.02)-sized values.</summary>
    public ILinearKernel CreateDummy(LinearSpec spec)
    {
        var scheme = Scheme(spec);
        if (spec.Device.type != DeviceType.CPU)
        {
            var dw = GroupwiseDeviceWeight.Random(scheme.WeightBits, scheme.GroupSize, spec.OutFeatures, spec.InFeatures, scheme.Symmetric, spec.Device, spec.Kernels!);
            return new GroupwiseLinearKernel(dw, scheme.ActivationBits, spec.HasBias ? ZeroBias(spec) : null);
        }
        var rng = new Random(unchecked((int)(spec.Name.GetHashCode() ^ 0x5eed)));
        int groups = spec.InFeatures / scheme.GroupSize;
        var packed = new int[(long)spec.OutFeatures * spec.InFeatures / (32 / scheme.WeightBits)];
        for (long i = 0; i < packed.Length; i++) packed[i] = rng.Next() ^ (rng.Next() << 16);
        var scales = Enumerable.Repeat(0.02f / (1 << (scheme.WeightBits - 2)), spec.OutFeatures * groups).ToArray();
        var zeros = Enumerable.Repeat((byte)(1 << (scheme.WeightBits - 1)), spec.OutFeatures * groups).ToArray();
        var gw = new GroupwiseWeight(scheme.WeightBits, scheme.GroupSize, spec.OutFeatures, spec.InFeatures, scheme.Symmetric, packed, scales, zeros);
        return new GroupwiseLinearKernel(gw, scheme.ActivationBits, spec.HasBias ? ZeroBias(spec) : null);
    }

    private static Tensor ZeroBias(LinearSpec spec) => zeros([spec.OutFeatures], spec.Dtype, spec.Device);

    /// <summary>LKD: trains every block's linear weights against the full-precision model, then loads them for quantization.</summary>
    public ModelOptions Calibrate(ModelConfig config, ModelOptions modelOptions, IReadOnlyList<int> calibrationStream, Action<int, int>? progress = null)
    {
        if (!NeedsCalibration || modelOptions.LoadFormat == "dummy") return modelOptions with { Quantization = this };
        var trained = LayerwiseDistillation.Run(config, modelOptions, this, calibrationStream, progress, Log);
        var inner = modelOptions.WeightTransform;
        return modelOptions with
        {
            Quantization = this,
            WeightTransform = w => new ReplacedWeightSource(inner is null ? w : inner(w), trained),
        };
    }

    /// <summary>The layer's scheme, checked against its shape and device (errors name the layer and the flag to change).</summary>
    public LayerScheme Scheme(LinearSpec spec)
    {
        var scheme = options.SchemeFor(spec) ?? throw new InvalidOperationException($"{spec.Name} is not quantized by zeroquant.");
        try
        {
            GroupwiseWeight.Check(scheme.WeightBits, scheme.GroupSize, spec.InFeatures, spec.Name);
        }
        catch (ArgumentException e)
        {
            throw new ModelLoadException(e.Message);
        }
        if (spec.Device.type != DeviceType.CPU) GroupwiseDeviceWeight.Require(spec.Kernels, scheme.GroupSize, spec.Name);
        return scheme;
    }
}
