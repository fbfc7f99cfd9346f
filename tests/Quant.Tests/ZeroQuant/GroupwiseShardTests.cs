using InferenceServer.Engine.Parallel;
using InferenceServer.Engine.Runtime;
using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests.ZeroQuant;

/// <summary>
/// Tensor-parallel shares of one group-wise layer given the same input as the whole layer (CPU, float32): column
/// shares are the whole layer's output rows exactly; row shares, summed through a thread communicator, equal the whole
/// layer within float32 summation order, with INT8 activations too (every rank scales by the whole row's abs-max);
/// a share that would cut a group is refused.
/// </summary>
public sealed class GroupwiseShardTests
{
    private const int N = 48, K = 128, Group = 32;

    private static GroupwiseLinearKernel Layer(int bits, int actBits, bool symmetric)
    {
        var g = new Generator(7);
        var w = randn([N, K], generator: g).mul_(Scalars.Of(0.05));
        var q = GroupwiseWeight.Quantize(w.data<float>().ToArray(), N, K, bits, Group, symmetric);
        return new GroupwiseLinearKernel(q, actBits, randn([N], generator: g).mul_(Scalars.Of(0.1)));
    }

    [Theory]
    [InlineData(4, 16, false)]
    [InlineData(4, 8, false)]
    [InlineData(8, 8, true)]
    public async Task RowSharesSumToTheWholeLayer(int bits, int actBits, bool symmetric)
    {
        using var layer = Layer(bits, actBits, symmetric);
        using var x = randn([5, K], generator: new Generator(3));
        using var expected = layer.Forward(x);
        var comms = ThreadCommunicator.CreateGroup(2);
        var shares = new[] { layer.TakeColumns(0, 64), layer.TakeColumns(64, 64) };
        var outputs = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(
            () => shares[r].ForwardAllReduced(x.narrow(1, 64 * r, 64).contiguous(), comms[r]), TaskCreationOptions.LongRunning)).ToArray();
        var results = await Task.WhenAll(outputs).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        double scale = expected.abs().max().item<float>();
        foreach (var y in results)
            using (y)
                Assert.True((y - expected).abs().max().item<float>() <= 1e-5 * scale, $"W{bits}A{actBits}: a rank's output differs from the whole layer's");
        foreach (var s in shares) s.Dispose();
    }

    [Fact]
    public void ColumnSharesAreTheWholeLayersRows()
    {
        using var layer = Layer(4, 8, false);
        using var x = randn([3, K], generator: new Generator(4));
        using var expected = layer.Forward(x);
        using var share = layer.TakeRows([(0, 8), (40, 8)]);
        using var y = share.Forward(x);
        Assert.True(y.eq(cat([expected.narrow(1, 0, 8), expected.narrow(1, 40, 8)], 1)).all().item<bool>());
        Assert.Equal(new Engine.Models.Quantization.ShardGranularity(1, Group), layer.Granularity);
        Assert.Throws<ArgumentException>(() => layer.TakeColumns(16, 64));
    }
}
