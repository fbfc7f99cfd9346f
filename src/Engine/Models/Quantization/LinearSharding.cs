using InferenceServer.Engine.Loading;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// Splits a whole linear layer into one rank's share, checking first that the kernel can be split there: a format
/// that is not <see cref="IShardableLinearKernel"/>, or a share that would cut one of its groups, is refused by name.
/// </summary>
public static class LinearSharding
{
    /// <summary>Column-parallel: the output rows of <paramref name="ranges"/>.</summary>
    public static ILinearKernel Rows(ILinearKernel full, string layer, IReadOnlyList<(int Start, int Count)> ranges, int size)
    {
        var s = Shardable(full, layer, size);
        foreach (var (start, count) in ranges)
            Check(layer, "output rows", start, count, s.Granularity.Rows, size);
        return s.TakeRows(ranges);
    }

    /// <summary>Row-parallel: input columns [start, start + count).</summary>
    public static IRowParallelLinear Columns(ILinearKernel full, string layer, (int Start, int Count) range, int size)
    {
        var s = Shardable(full, layer, size);
        Check(layer, "input columns", range.Start, range.Count, s.Granularity.Columns, size);
        return s.TakeColumns(range.Start, range.Count);
    }

    /// <summary>
    /// The slices [Start, Start + Count) of <paramref name="t"/> along <paramref name="dim"/>, concatenated in the order
    /// of <paramref name="ranges"/> into a new contiguous tensor that shares no storage with <paramref name="t"/>:
    /// t [.., N, ..] gives [.., Σ Count, ..]. A column-parallel share takes its output rows this way, e.g. a fused
    /// q/k/v weight [q + 2kv, in] gives one rank [(q + 2kv) / tp, in] built from its slice of each part.
    /// </summary>
    /// <remarks>The narrowed views are disposed here; the result belongs to the caller's dispose scope, as any torch op's.</remarks>
    public static Tensor StackRows(Tensor t, IReadOnlyList<(int Start, int Count)> ranges, long dim = 0)
    {
        using var scope = NewDisposeScope();
        var parts = ranges.Select(r => t.narrow(dim, r.Start, r.Count)).ToList();
        // cat of a single tensor hands that tensor back, here a view of t, so one range is copied explicitly.
        var stacked = parts.Count == 1 ? parts[0].clone() : cat(parts, dim);
        return stacked.contiguous().MoveToOuterDisposeScope();
    }

    private static IShardableLinearKernel Shardable(ILinearKernel full, string layer, int size) => full as IShardableLinearKernel
        ?? throw new ModelLoadException($"--tensor-parallel-size {size}: {layer} is stored as {full.GetType().Name}, which cannot be split across ranks; serve it with --tensor-parallel-size 1.");

    private static void Check(string layer, string what, int start, int count, int granularity, int size)
    {
        if (granularity <= 1 || (start % granularity == 0 && count % granularity == 0)) return;
        int cut = start % granularity != 0 ? start : start + count;
        throw new ModelLoadException(
            $"--tensor-parallel-size {size} would split {layer}'s {what} at {cut}, inside a quantization group of {granularity}; " +
            $"each rank's share ({count}) must be a multiple of the group size. Choose a tensor-parallel size that keeps groups whole, or quantize with a group size that divides {count}.");
    }
}
