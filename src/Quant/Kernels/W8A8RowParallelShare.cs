using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Parallel;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// One rank's input columns of a W8A8 row-parallel layer (o_proj, down_proj, fc2). Two reductions keep it the
/// single-device layer exactly: the per-token activation abs-max is all-reduced with max (T floats), so every rank
/// quantizes its columns with the whole row's scale; and the int32 accumulators are all-reduced with sum before the
/// scales and bias apply, so the integers and then the dequantized output are the ones one device computes.
/// </summary>
/// <param name="share">The rank's columns [N, K/size] with every row's scale and the whole bias.</param>
internal sealed class W8A8RowParallelShare(W8A8LinearKernel share) : IRowParallelLinear
{
    public int InFeatures => share.InFeatures;
    public int OutFeatures => share.OutFeatures;
    public long WeightBytes => share.WeightBytes;

    /// <param name="x">[T, K/size] this rank's share of the input.</param>
    /// <returns>[T, N] the whole layer's output in x's dtype.</returns>
    public Tensor ForwardAllReduced(Tensor x, ICommunicator comm)
    {
        using var scope = NewDisposeScope();
        var xf = x.to(ScalarType.Float32).contiguous();
        var sx = share.ActScale(xf, comm);                                          // [T, 1] (or [1, 1] static)
        var acc = share.Accumulate(W8A8LinearKernel.QuantizeActivations(xf, sx));   // [T, N] this rank's integers
        comm.AllReduce(acc);
        return share.Dequantize(acc, sx, x.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose() => share.Dispose();
}
