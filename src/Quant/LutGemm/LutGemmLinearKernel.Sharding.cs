using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// Tensor-parallel shares of a BCQ layer (<see cref="BcqShares"/>): whole output rows with their α and offsets, or input
/// columns in whole groups and sign words, whose partial products are summed over the ranks before the bias.
/// </summary>
public sealed partial class LutGemmLinearKernel : IShardableLinearKernel
{
    public ShardGranularity Granularity => new(1, BcqShares.ColumnGranularity(GroupSize));

    public ILinearKernel TakeRows(IReadOnlyList<(int Start, int Count)> ranges)
    {
        using var scope = NewDisposeScope();
        var (s, a, o) = Packed();
        var (signs, alpha, offset) = BcqShares.TakeRows(s, a, o, ranges);
        var bias = _bias is null ? null : LinearSharding.StackRows(_bias, ranges);
        return Share(signs, alpha, offset, InFeatures, bias);
    }

    public IRowParallelLinear TakeColumns(int start, int count)
    {
        using var scope = NewDisposeScope();
        var (s, a, o) = Packed();
        var (signs, alpha, offset) = BcqShares.TakeColumns(s, a, o, InFeatures, GroupSize, start, count);
        return new PartialSumLinear(Share(signs, alpha, offset, count, null), _bias?.clone().DetachFromDisposeScope());
    }

    /// <summary>The packed tensors where they live, α and offsets in float32 (the form <see cref="BcqTensors"/> takes).</summary>
    private (Tensor Signs, Tensor Alpha, Tensor Offset) Packed() => _host is not null
        ? BcqTensors.TensorsOf(_host)
        : (_device!.Signs, _device.Alpha.to(ScalarType.Float32), _device.Offset.to(ScalarType.Float32));

    /// <summary>A layer like this one (device, kernels, kernel choice, scale dtype) over the share's tensors, moved out of the scope.</summary>
    private LutGemmLinearKernel Share(Tensor signs, Tensor alpha, Tensor offset, int inFeatures, Tensor? bias)
    {
        var serving = _device?.Alpha.dtype == ScalarType.Float16 ? ScalarType.Float16 : ScalarType.Float32;
        return FromTensors(signs.DetachFromDisposeScope(), alpha.DetachFromDisposeScope(), offset.DetachFromDisposeScope(), inFeatures, GroupSize,
            bias?.DetachFromDisposeScope(), _kernels, _choice, serving);
    }
}
