using InferenceServer.Engine.Parallel;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// Boundaries a tensor-parallel share of a linear layer must keep: output rows in multiples of <see cref="Rows"/>,
/// input columns in multiples of <see cref="Columns"/> (a quantization group: its scale, zero point or BCQ α belong to
/// the whole group, so a group may not straddle two ranks).
/// </summary>
public readonly record struct ShardGranularity(int Rows, int Columns)
{
    /// <summary>Per-output-channel formats (dense, W8A8): any row or column may start a share.</summary>
    public static readonly ShardGranularity Any = new(1, 1);
}

/// <summary>
/// A linear kernel that can hand out one rank's share of itself (the tensor-parallel rule a quantization method's
/// kernel implements). The layer is quantized whole, exactly as on one device, and then split, so per-channel scales,
/// smoothing factors, groups and their zero points travel with their rows or columns and every rank computes what the
/// single-device layer computes for its share.
/// </summary>
public interface IShardableLinearKernel : ILinearKernel
{
    ShardGranularity Granularity { get; }

    /// <summary>
    /// A column-parallel share: the output rows of <paramref name="ranges"/> stacked in order, with their scales and
    /// bias (for q/k/v fused into one layer, one range per part). A new kernel; this one is left as it was.
    /// </summary>
    ILinearKernel TakeRows(IReadOnlyList<(int Start, int Count)> ranges);

    /// <summary>A row-parallel share: input columns [start, start + count); its output is reduced over the ranks.</summary>
    IRowParallelLinear TakeColumns(int start, int count);
}

/// <summary>
/// One rank's input columns of a row-parallel layer (o_proj, down_proj, fc2): the partial products of all ranks are
/// summed by the communicator and the bias added once, so every rank ends with the whole layer's output.
/// </summary>
public interface IRowParallelLinear : IDisposable
{
    int InFeatures { get; }
    int OutFeatures { get; }
    long WeightBytes { get; }

    /// <param name="x">[T, InFeatures] this rank's share of the input.</param>
    /// <returns>[T, OutFeatures] the full layer's output, identical on every rank.</returns>
    Tensor ForwardAllReduced(Tensor x, ICommunicator comm);
}
