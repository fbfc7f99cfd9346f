using InferenceServer.Engine.Parallel;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>A row-parallel share bound to its rank's communicator, so model code calls it like any linear layer.</summary>
public sealed class RowParallelLinear(IRowParallelLinear share, ICommunicator comm) : ILinearKernel
{
    public int InFeatures => share.InFeatures;
    public int OutFeatures => share.OutFeatures;
    public long WeightBytes => share.WeightBytes;

    /// <param name="x">[T, InFeatures] this rank's share of the input.</param>
    /// <returns>[T, OutFeatures] the whole layer's output.</returns>
    public Tensor Forward(Tensor x) => share.ForwardAllReduced(x, comm);

    public void Dispose() => share.Dispose();
}
