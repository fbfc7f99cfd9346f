using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>No quantization: weights stay in the serving dtype (<see cref="DenseLinearKernel"/>).</summary>
public sealed class UnquantizedMethod : IQuantMethod
{
    public static readonly UnquantizedMethod Instance = new();

    public string Name => "none";

    public bool AppliesTo(LinearSpec spec) => true;

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias) => new DenseLinearKernel(weight, bias, spec.Kernels);

    public ILinearKernel CreateDummy(LinearSpec spec) => new DenseLinearKernel(
        randn([spec.OutFeatures, spec.InFeatures], spec.Dtype, spec.Device).mul_(Runtime.Scalars.InitStd),
        spec.HasBias ? zeros([spec.OutFeatures], spec.Dtype, spec.Device) : null, spec.Kernels);
}
