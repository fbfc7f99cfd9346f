namespace InferenceServer.Quant.Kernels;

/// <summary>
/// Tensor-parallel shares of a <see cref="GroupwiseWeight"/>: whole output rows with their groups' scales and zero
/// points, or whole groups of input columns. Each share holds exactly the codes, scales and zero points of the
/// whole layer's rows or columns, so it computes what the whole layer computes for them.
/// </summary>
public static class GroupwiseWeightShares
{
    /// <summary>The rows of <paramref name="ranges"/> stacked in order (a column-parallel share).</summary>
    public static GroupwiseWeight TakeRows(this GroupwiseWeight w, IReadOnlyList<(int Start, int Count)> ranges)
    {
        int rows = ranges.Sum(r => r.Count);
        var packed = new int[(long)rows * w.WordsPerRow];
        var scales = new float[(long)rows * w.Groups];
        var zeros = new byte[(long)rows * w.Groups];
        int at = 0;
        foreach (var (start, count) in ranges)
        {
            Array.Copy(w.Packed, (long)start * w.WordsPerRow, packed, (long)at * w.WordsPerRow, (long)count * w.WordsPerRow);
            Array.Copy(w.Scales, (long)start * w.Groups, scales, (long)at * w.Groups, (long)count * w.Groups);
            Array.Copy(w.Zeros, (long)start * w.Groups, zeros, (long)at * w.Groups, (long)count * w.Groups);
            at += count;
        }
        return new GroupwiseWeight(w.Bits, w.GroupSize, rows, w.InFeatures, w.Symmetric, packed, scales, zeros);
    }

    /// <summary>Input columns [start, start + count), whole groups (a row-parallel share).</summary>
    public static GroupwiseWeight TakeColumns(this GroupwiseWeight w, int start, int count)
    {
        if (start % w.GroupSize != 0 || count % w.GroupSize != 0)
            throw new ArgumentException($"columns [{start}, {start + count}) cut a quantization group of {w.GroupSize}.");
        int words = count / w.CodesPerWord, groups = count / w.GroupSize;
        int firstWord = start / w.CodesPerWord, firstGroup = start / w.GroupSize;
        var packed = new int[(long)w.OutFeatures * words];
        var scales = new float[(long)w.OutFeatures * groups];
        var zeros = new byte[(long)w.OutFeatures * groups];
        for (int n = 0; n < w.OutFeatures; n++)
        {
            Array.Copy(w.Packed, (long)n * w.WordsPerRow + firstWord, packed, (long)n * words, words);
            Array.Copy(w.Scales, (long)n * w.Groups + firstGroup, scales, (long)n * groups, groups);
            Array.Copy(w.Zeros, (long)n * w.Groups + firstGroup, zeros, (long)n * groups, groups);
        }
        return new GroupwiseWeight(w.Bits, w.GroupSize, w.OutFeatures, count, w.Symmetric, packed, scales, zeros);
    }
}
