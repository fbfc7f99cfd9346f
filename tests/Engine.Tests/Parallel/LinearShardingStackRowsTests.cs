using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Parallel;

/// <summary>
/// <see cref="LinearSharding.StackRows"/>, which every column-parallel share uses to take its rows: the right slices in
/// the order given, a copy the share owns, and no narrowed views left behind in the caller's dispose scope.
/// </summary>
public sealed class LinearShardingStackRowsTests
{
    [Fact]
    public void StacksTheRangesInOrderAlongDimZero()
    {
        using var t = Scalars.Arange(24, ScalarType.Float32, CPU).reshape(6, 4);   // row r holds 4r .. 4r + 3
        using var rows = LinearSharding.StackRows(t, [(4, 2), (1, 1)]);
        Assert.Equal(new long[] { 3, 4 }, rows.shape);
        Assert.True(rows.is_contiguous());
        Assert.Equal(new float[] { 16, 17, 18, 19, 20, 21, 22, 23, 4, 5, 6, 7 }, rows.data<float>().ToArray());
    }

    [Fact]
    public void StacksAlongTheLastDimension()
    {
        using var t = Scalars.Arange(12, ScalarType.Float32, CPU).reshape(2, 6);   // BCQ keeps output rows last: [.., N]
        using var rows = LinearSharding.StackRows(t, [(0, 2), (4, 1)], -1);
        Assert.Equal(new long[] { 2, 3 }, rows.shape);
        Assert.True(rows.is_contiguous());
        Assert.Equal(new float[] { 0, 1, 4, 6, 7, 10 }, rows.data<float>().ToArray());
    }

    public static TheoryData<(int, int)[], long> Shares => new()
    {
        { [(0, 3)], 0 },            // the whole tensor
        { [(1, 2)], 0 },            // one contiguous slice
        { [(0, 1), (1, 2)], 0 },    // adjacent ranges, which one view could also cover
        { [(0, 2)], -1 },
    };

    [Theory]
    [MemberData(nameof(Shares))]
    public void TheShareIsACopyNotAView((int, int)[] ranges, long dim)
    {
        using var t = ones(3, 2);
        using var rows = LinearSharding.StackRows(t, ranges, dim);
        rows.fill_(Scalars.Of(5));
        Assert.Equal(6f, t.sum().item<float>());
    }

    [Fact]
    public void OnlyTheResultJoinsTheCallersScope()
    {
        using var t = ones(8, 2);
        Tensor rows;
        using (var scope = NewDisposeScope())
        {
            rows = LinearSharding.StackRows(t, [(0, 2), (4, 2), (6, 1)]);
            Assert.Equal(1, scope.DisposablesCount);
        }
        Assert.True(rows.IsInvalid);
        Assert.False(t.IsInvalid);
    }
}
