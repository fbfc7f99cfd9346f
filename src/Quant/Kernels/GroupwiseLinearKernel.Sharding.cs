using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Parallel;
using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// Tensor-parallel shares of a group-wise layer. Column-parallel: whole output rows with their groups. Row-parallel:
/// whole groups of input columns, so no group's scale or zero point straddles two ranks; the partial products are
/// summed over the ranks and the bias added once. With INT8 activations the per-token scale is the abs-max over every
/// rank's columns (one all-reduce of T floats), so every rank rounds its columns exactly as one device would.
/// </summary>
public sealed partial class GroupwiseLinearKernel : IShardableLinearKernel
{
    public ShardGranularity Granularity => new(1, GroupSize);

    public ILinearKernel TakeRows(IReadOnlyList<(int Start, int Count)> ranges)
    {
        var bias = Bias is null ? null : LinearSharding.StackRows(Bias, ranges).DetachFromDisposeScope();
        return Rebuild(Weight.TakeRows(ranges), bias);
    }

    public IRowParallelLinear TakeColumns(int start, int count)
    {
        var share = Rebuild(Weight.TakeColumns(start, count), null);
        return ActivationBits == 8 ? new A8RowShare(share, Bias?.clone()) : new PartialSumLinear(share, Bias?.clone());
    }

    /// <summary>A layer of the same scheme on the same device over <paramref name="weight"/>.</summary>
    private GroupwiseLinearKernel Rebuild(GroupwiseWeight weight, Tensor? bias) => _device is { } d
        ? new GroupwiseLinearKernel(weight, ActivationBits, bias, d.Packed.device, d.Kernels)
        : new GroupwiseLinearKernel(weight, ActivationBits, bias);

    /// <summary>x [T, K] quantized with the given per-token scales sx [T, 1] float32, times W; [T, N] in x's dtype, no bias.</summary>
    private Tensor ForwardWithActScale(Tensor x, Tensor sx)
    {
        using var scope = NewDisposeScope();
        var xf = x.to(ScalarType.Float32).contiguous();
        if (_device is { } d)
        {
            var q = TokenwiseInt8.Apply(xf, sx).to(ScalarType.Int8);
            return d.Kernels.GroupwiseGemmA8(q, sx.reshape(-1).contiguous(), d.Packed, d.Scales, d.Zeros, null, Bits, GroupSize, x.dtype).MoveToOuterDisposeScope();
        }
        return Scaled(xf, sx).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The row-parallel share of an A8 layer: whole-row activation scales, summed partial products, bias once.</summary>
    private sealed class A8RowShare(GroupwiseLinearKernel partial, Tensor? bias) : IRowParallelLinear
    {
        public int InFeatures => partial.InFeatures;
        public int OutFeatures => partial.OutFeatures;
        public long WeightBytes => partial.WeightBytes;

        public Tensor ForwardAllReduced(Tensor x, ICommunicator comm)
        {
            Tensor y;
            using (var scope = NewDisposeScope())
            {
                var sx = TokenwiseInt8.Scale(x.to(ScalarType.Float32), null, comm);   // [T, 1], the whole row's
                y = partial.ForwardWithActScale(x, sx).MoveToOuterDisposeScope();
            }
            comm.AllReduce(y);
            return bias is null ? y : Scalars.AddInPlace(y, bias);
        }

        public void Dispose()
        {
            partial.Dispose();
            bias?.Dispose();
        }
    }
}
