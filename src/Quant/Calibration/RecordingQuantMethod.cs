using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Calibration;

/// <summary>
/// A quant method that keeps every linear layer dense and watches it: the weight's per-column abs-max when built,
/// the input's per-channel abs-max on every forward. Loading a model with it is how calibration sees activations.
/// </summary>
public sealed class RecordingQuantMethod : IQuantMethod
{
    private readonly List<RecordingKernel> _kernels = [];

    public string Name => "record";

    public bool AppliesTo(LinearSpec spec) => true;

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias)
    {
        var k = new RecordingKernel(spec.Name, new DenseLinearKernel(weight, bias));
        _kernels.Add(k);
        return k;
    }

    public ILinearKernel CreateDummy(LinearSpec spec) => Create(spec,
        randn([spec.OutFeatures, spec.InFeatures], spec.Dtype, spec.Device).mul_(InferenceServer.Engine.Runtime.Scalars.InitStd),
        spec.HasBias ? zeros([spec.OutFeatures], spec.Dtype, spec.Device) : null);

    /// <summary>Copies the running maxima to the host; call after the calibration forwards.</summary>
    public ActivationStats Collect(long tokens)
    {
        var stats = new ActivationStats { Tokens = tokens };
        foreach (var k in _kernels)
        {
            stats.WeightAbsMax[k.Name] = ToArray(k.Dense.Weight.abs().amax([0L]));
            if (k.InputAbsMax is { } x) stats.InputAbsMax[k.Name] = ToArray(x);
        }
        return stats;
    }

    private static float[] ToArray(Tensor t)
    {
        using var f = t.to(ScalarType.Float32).cpu();
        t.Dispose();
        return f.data<float>().ToArray();
    }

    private sealed class RecordingKernel(string name, DenseLinearKernel dense) : ILinearKernel
    {
        public string Name { get; } = name;
        public DenseLinearKernel Dense { get; } = dense;
        /// <summary>[in] running max |x| per input channel (float32, on the device).</summary>
        public Tensor? InputAbsMax { get; private set; }
        public int InFeatures => Dense.InFeatures;
        public int OutFeatures => Dense.OutFeatures;
        public long WeightBytes => Dense.WeightBytes;

        /// <param name="x">[T, in]</param>
        public Tensor Forward(Tensor x)
        {
            using (NewDisposeScope())
            {
                var m = x.detach().abs().amax([0L]).to(ScalarType.Float32);             // [in]
                var updated = InputAbsMax is null ? m : maximum(InputAbsMax, m);
                updated.DetachFromDisposeScope();
                InputAbsMax?.Dispose();
                InputAbsMax = updated;
            }
            return Dense.Forward(x);
        }

        public void Dispose()
        {
            Dense.Dispose();
            InputAbsMax?.Dispose();
        }
    }
}
