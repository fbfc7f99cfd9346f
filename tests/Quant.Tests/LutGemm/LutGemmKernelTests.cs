using InferenceServer.Quant.Formats;
using InferenceServer.Quant.Kernels;
using InferenceServer.Quant.LutGemm;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests.LutGemm;

/// <summary>
/// The CPU LUT-GEMM against the matmul of the dequantized weights (computed in double): within the float32
/// accumulation-order bound of <see cref="BcqTestData.Tolerance"/> for q = 1..4, several group sizes, odd shapes and
/// both row paths; exactly equal where every partial sum is representable.
/// </summary>
public sealed class LutGemmKernelTests
{
    public static TheoryData<int, int, int, int, int> Shapes() => new()
    {
        // bits, group, M, N, K
        { 1, 8, 1, 1, 8 },
        { 1, 32, 3, 5, 96 },
        { 2, 8, 9, 7, 21 },        // K not a multiple of 8 (padded chunk) nor of the group
        { 2, 128, 17, 33, 256 },
        { 3, 16, 8, 31, 200 },     // groups of 16 start mid-word
        { 3, 128, 13, 64, 384 },
        { 4, 64, 1, 129, 136 },    // the last group holds 8 channels
        { 4, 128, 24, 40, 512 },
        { 3, 1024, 5, 16, 1000 },  // one short group wider than K
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesDequantizedMatmulOnBothPaths(int bits, int group, int m, int n, int k)
    {
        var w = BcqTestData.RandomPacked(n, k, bits, group, seed: bits * 1000 + k);
        var x = BcqTestData.Normal(m * k, seed: m + n);
        var reference = BcqTestData.ReferenceMatmul(x, w.Dequantize(), m, n, k);
        foreach (var path in new[] { LutGemmPath.Rows, LutGemmPath.Tiles })
        {
            var y = new float[m * n];
            Kernels.LutGemm.Multiply(x, w, y, m, path);
            for (int r = 0; r < m; r++)
                for (int j = 0; j < n; j++)
                {
                    double err = Math.Abs(y[r * n + j] - reference[r * n + j]), tol = BcqTestData.Tolerance(w, x, r, j);
                    Assert.True(err <= tol, $"{path} q={bits} g={group} [{m}, {n}, {k}] y[{r}, {j}] = {y[r * n + j]}, reference {reference[r * n + j]}: error {err:E2} > bound {tol:E2}");
                }
        }
    }

    /// <summary>Integer activations and power-of-two scales keep every partial sum exact: any slip in a sign, a table or a scale shows.</summary>
    [Theory]
    [InlineData(1, 8, 1)]
    [InlineData(2, 32, 8)]
    [InlineData(3, 64, 19)]
    [InlineData(4, 128, 40)]
    public void IsExactWhenEverySumIsRepresentable(int bits, int group, int m)
    {
        const int n = 37, k = 384;
        var rnd = BcqTestData.RandomPacked(n, k, bits, group, seed: 7 * bits);
        var alpha = rnd.Alpha.Select((_, i) => (float)(1 << (i % 4))).ToArray();
        var offset = rnd.Offset.Select((_, i) => (float)(i % 5 - 2)).ToArray();
        var w = new BcqWeights(n, k, bits, group, rnd.Signs, alpha, offset);
        var rng = new Random(bits);
        var x = Enumerable.Range(0, m * k).Select(_ => (float)rng.Next(-8, 9)).ToArray();
        var reference = BcqTestData.ReferenceMatmul(x, w.Dequantize(), m, n, k);
        foreach (var path in new[] { LutGemmPath.Rows, LutGemmPath.Tiles })
        {
            var y = new float[m * n];
            Kernels.LutGemm.Multiply(x, w, y, m, path);
            Assert.Equal(reference.Select(v => (float)v).ToArray(), y);
        }
    }

    /// <summary>Large enough to run in parallel (rows split into tiles, outputs split into ranges at M = 1).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    public void ParallelSplitsAgreeWithTheBound(int m)
    {
        const int n = 768, k = 512, bits = 3, group = 128;
        var w = BcqTestData.RandomPacked(n, k, bits, group, seed: 11);
        var x = BcqTestData.Normal(m * k, seed: 12);
        var reference = BcqTestData.ReferenceMatmul(x, w.Dequantize(), m, n, k);
        var y = new float[m * n];
        Kernels.LutGemm.Multiply(x, w, y, m);
        for (int i = 0; i < m * n; i++)
            Assert.True(Math.Abs(y[i] - reference[i]) <= BcqTestData.Tolerance(w, x, i / n, i % n), $"y[{i / n}, {i % n}]");
    }

    /// <summary>The TorchSharp dequantization (the non-CPU fallback and the benchmark baseline) gives the same floats as the format's definition.</summary>
    [Theory]
    [InlineData(1, 8, 21)]
    [InlineData(3, 128, 384)]
    [InlineData(4, 32, 200)]
    public void TensorDequantizationEqualsTheFormat(int bits, int group, int k)
    {
        var w = BcqTestData.RandomPacked(19, k, bits, group, seed: k);
        using var d = BcqTensors.FromHost(w, CPU);
        using var dense = d.Dequantize(ScalarType.Float32);
        Assert.Equal([19L, k], dense.shape);
        Assert.Equal(w.Dequantize(), dense.data<float>().ToArray());
        Assert.Equal(w.Signs, d.ToHost().Signs);
    }

    /// <summary>
    /// float16 scales (what CUDA layers hold for 16-bit serving): the sign words are untouched, the scales rounded once,
    /// the bytes shrink by the scales' half, and both the host copy and the dequantization use the rounded scales.
    /// </summary>
    [Fact]
    public void HalfScalesRoundOnceAndKeepTheSigns()
    {
        var w = BcqTestData.RandomPacked(20, 256, 3, 64, seed: 11);
        var d = BcqTensors.FromHost(w, CPU);
        long before = d.Bytes;
        using var h = d.WithHalfScales();
        Assert.Equal(ScalarType.Float16, h.Alpha.dtype);
        Assert.Equal(before - 2L * (w.Alpha.Length + w.Offset.Length), h.Bytes);
        var host = h.ToHost();
        Assert.Equal(w.Signs, host.Signs);
        Assert.Equal(w.Alpha.Select(v => (float)(Half)v).ToArray(), host.Alpha);
        Assert.Equal(w.Offset.Select(v => (float)(Half)v).ToArray(), host.Offset);
        using var dense = h.Dequantize(ScalarType.Float32);
        Assert.Equal(host.Dequantize(), dense.data<float>().ToArray());
    }

    [Fact]
    public void SizeChecksRejectWrongBuffers()
    {
        var w = BcqTestData.RandomPacked(4, 64, 2, 32, seed: 1);
        Assert.Contains("needs 16", Assert.Throws<ArgumentException>(() => new BcqWeights(4, 64, 2, 32, new uint[7], w.Alpha, w.Offset)).Message);
        Assert.Contains("alpha", Assert.Throws<ArgumentException>(() => new BcqWeights(4, 64, 2, 32, w.Signs, new float[15], w.Offset)).Message);
        Assert.Contains("offset", Assert.Throws<ArgumentException>(() => new BcqWeights(4, 64, 2, 32, w.Signs, w.Alpha, new float[9])).Message);
        Assert.Contains("bits 5", Assert.Throws<ArgumentException>(() => BcqWeights.Validate(4, 64, 5, 32)).Message);
        Assert.Contains("group size 12", Assert.Throws<ArgumentException>(() => BcqWeights.Validate(4, 64, 2, 12)).Message);
        Assert.Throws<ArgumentException>(() => Kernels.LutGemm.Multiply(new float[63], w, new float[4], 1));
        // q·N·(4·ceil(K/32) + 4·G) + 4·G·N bytes: 2·4·(8 + 8) + 4·2·4.
        Assert.Equal(2 * 4 * (4 * 2 + 4 * 2) + 4 * 2 * 4, w.Bytes);
    }
}
