using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Formats;
using static TorchSharp.torch;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// Tensor-parallel shares of BCQ weights in their tensor form (signs [q, W, N], alpha [q, G, N], offset [G, N], any
/// device): whole output rows (the last dimension of every tensor), or input columns in whole groups and whole 32-bit
/// sign words, so every group's α and offset stay with all of its columns.
/// </summary>
public static class BcqShares
{
    /// <summary>Input columns a row-parallel share must start and end on: a multiple of both the group and the sign word.</summary>
    public static int ColumnGranularity(int groupSize) => groupSize / Gcd(groupSize, BcqWeights.WordBits) * BcqWeights.WordBits;

    /// <summary>The output rows of <paramref name="ranges"/> stacked in order: new tensors.</summary>
    public static (Tensor Signs, Tensor Alpha, Tensor Offset) TakeRows(Tensor signs, Tensor alpha, Tensor offset, IReadOnlyList<(int Start, int Count)> ranges) =>
        (LinearSharding.StackRows(signs, ranges, -1), LinearSharding.StackRows(alpha, ranges, -1), LinearSharding.StackRows(offset, ranges, -1));

    /// <summary>Input columns [start, start + count) of a layer with <paramref name="inFeatures"/> columns: new tensors.</summary>
    public static (Tensor Signs, Tensor Alpha, Tensor Offset) TakeColumns(Tensor signs, Tensor alpha, Tensor offset, int inFeatures, int groupSize, int start, int count)
    {
        int unit = ColumnGranularity(groupSize);
        bool last = start + count == inFeatures;
        if (start % unit != 0 || (count % unit != 0 && !last))
            throw new ArgumentException($"columns [{start}, {start + count}) cut a BCQ group of {groupSize} or a 32-column sign word.");
        int words = BcqWeights.WordsFor(count), groups = BcqWeights.GroupsFor(count, groupSize);
        return (signs.narrow(1, start / BcqWeights.WordBits, words).contiguous().clone(),
                alpha.narrow(1, start / groupSize, groups).contiguous().clone(),
                offset.narrow(0, start / groupSize, groups).contiguous().clone());
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
