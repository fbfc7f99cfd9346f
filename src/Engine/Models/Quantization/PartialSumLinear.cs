using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Parallel;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// The row-parallel share of a kernel whose outputs add up: y = Σ_ranks x_r W_rᵀ (one all-reduce), then + b.
/// Kernels with a cheaper or more exact reduction (W8A8: the integer accumulators) implement their own.
/// </summary>
/// <param name="partial">This rank's columns, without bias.</param>
/// <param name="bias">[out] the layer's bias (the same on every rank), added after the sum.</param>
public sealed class PartialSumLinear(ILinearKernel partial, Tensor? bias) : IRowParallelLinear
{
    public int InFeatures => partial.InFeatures;
    public int OutFeatures => partial.OutFeatures;
    public long WeightBytes => partial.WeightBytes;

    public Tensor ForwardAllReduced(Tensor x, ICommunicator comm)
    {
        var y = partial.Forward(x);                  // [T, out] this rank's partial sum
        comm.AllReduce(y);
        return bias is null ? y : Scalars.AddInPlace(y, bias);
    }

    public void Dispose()
    {
        partial.Dispose();
        bias?.Dispose();
    }
}
