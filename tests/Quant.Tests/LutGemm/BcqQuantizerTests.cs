using InferenceServer.Quant.Formats;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.LutGemm;

namespace InferenceServer.Quant.Tests.LutGemm;

/// <summary>
/// BCQ quantization: the uniform initialisation is asymmetric round-to-nearest (checked against an independent RTN),
/// refinement never increases a group's error and leaves greedy BCQ below RTN, and the packed bits sit where the
/// format says. Also the lutgemm flags' parsing.
/// </summary>
public sealed class BcqQuantizerTests
{
    private const int N = 24, K = 384;

    [Theory]
    [InlineData(1, 32)]
    [InlineData(2, 128)]
    [InlineData(3, 128)]
    [InlineData(4, 64)]
    public void UniformIsRoundToNearestInBcqForm(int bits, int group)
    {
        var w = BcqTestData.Normal(N * K, seed: bits, std: 0.02f);
        w[5] = 0.3f;                                   // an outlier widens one group's range
        var q = BcqQuantizer.Quantize(w, N, K, bits, group, BcqInit.Uniform, iterations: 0);
        int levels = (1 << bits) - 1;
        for (int n = 0; n < N; n++)
            for (int g = 0; g < K / group; g++)
            {
                var slice = w.AsSpan(n * K + g * group, group).ToArray();
                float min = slice.Min(), max = slice.Max(), scale = (max - min) / levels, zero = MathF.Round(-min / scale);
                for (int c = 0; c < group; c++)
                {
                    float code = Math.Clamp(MathF.Round(slice[c] / scale) + zero, 0, levels);
                    float rtn = scale * (code - zero);
                    Assert.True(Math.Abs(q.Weight(n, g * group + c) - rtn) <= 1e-5f * (max - min),
                        $"W{bits} g{group} [{n}, {g * group + c}]: BCQ {q.Weight(n, g * group + c)} vs round-to-nearest {rtn}");
                }
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RefinementNeverIncreasesAGroupsErrorAndGreedyBeatsRoundToNearest(int bits)
    {
        var w = BcqTestData.Normal(N * K, seed: 10 + bits, std: 0.02f);
        double rtnTotal = 0, greedyTotal = 0, refinedTotal = 0;
        Span<byte> codes = stackalloc byte[128];
        Span<float> alpha = stackalloc float[bits];
        var residual = new float[128];
        for (int start = 0; start < w.Length; start += 128)
        {
            var wg = w.AsSpan(start, 128);
            BcqGroupFit.Uniform(wg, bits, codes, alpha, out var z);
            rtnTotal += BcqGroupFit.SquaredError(wg, bits, codes, alpha, z);
            BcqGroupFit.Greedy(wg, bits, codes, alpha, out z, residual);
            double greedy = BcqGroupFit.SquaredError(wg, bits, codes, alpha, z);
            greedyTotal += greedy;
            double previous = greedy;
            for (int round = 0; round < 30; round++)
            {
                BcqGroupFit.Refine(wg, bits, codes, alpha, ref z, 1);
                double e = BcqGroupFit.SquaredError(wg, bits, codes, alpha, z);
                Assert.True(e <= previous * (1 + 1e-6), $"W{bits} group at {start}: round {round} raised the error from {previous} to {e}");
                previous = e;
            }
            refinedTotal += previous;
        }
        Assert.True(refinedTotal < greedyTotal, $"W{bits}: refinement {refinedTotal} did not improve greedy {greedyTotal}");
        Assert.True(refinedTotal < rtnTotal, $"W{bits}: greedy + refinement {refinedTotal} ≥ round-to-nearest {rtnTotal}");
    }

    [Theory]
    [InlineData(BcqInit.Uniform)]
    [InlineData(BcqInit.Greedy)]
    public void ConstantGroupsAreExact(BcqInit init)
    {
        var w = Enumerable.Repeat(0.125f, 2 * 64).ToArray();
        var q = BcqQuantizer.Quantize(w, 2, 64, 3, 32, init, 5);
        Assert.All(q.Dequantize(), v => Assert.Equal(0.125f, v));
    }

    /// <summary>Bit j of word [i, w, n] is plane i's sign of weight (n, 32w + j).</summary>
    [Fact]
    public void PackedBitsSitWhereTheFormatSays()
    {
        var codes = new byte[3 * 40];
        codes[1 * 40 + 37] = 0b10;                     // row 1, k = 37: plane 1 positive, plane 0 negative
        var signs = BcqQuantizer.Pack(codes, 3, 40, 2);
        int words = BcqWeights.WordsFor(40);
        Assert.Equal(2 * words * 3, signs.Length);
        Assert.Equal(1u << 5, signs[(1 * words + 1) * 3 + 1]);
        Assert.Equal(1, signs.Count(s => s != 0));
    }

    [Fact]
    public void OptionsHaveDefaultsAndNameBadValues()
    {
        var d = LutGemmOptions.Parse(new QuantMethodOptions());
        Assert.Equal((4, 128, BcqInit.Greedy, LutGemmOptions.DefaultGreedyIterations), (d.Bits, d.GroupSize, d.Init, d.RefinementRounds));
        var u = Parse(("weight-bits", "3"), ("group-size", "64"), ("bcq-init", "uniform"));
        Assert.Equal((3, 64, BcqInit.Uniform, 0), (u.Bits, u.GroupSize, u.Init, u.RefinementRounds));
        Assert.Equal(7, Parse(("bcq-init", "uniform"), ("bcq-iterations", "7")).RefinementRounds);
        Assert.Contains("--weight-bits 5", Assert.Throws<ArgumentException>(() => Parse(("weight-bits", "5"))).Message);
        Assert.Contains("--group-size 12", Assert.Throws<ArgumentException>(() => Parse(("group-size", "12"))).Message);
        Assert.Contains("--bcq-init best", Assert.Throws<ArgumentException>(() => Parse(("bcq-init", "best"))).Message);
        Assert.Contains("--bcq-iterations -1", Assert.Throws<ArgumentException>(() => Parse(("bcq-iterations", "-1"))).Message);
        Assert.Equal(LutGemmKernelChoice.Lut, LutGemmOptions.Parse(new QuantMethodOptions()).Kernel);
        Assert.Equal(LutGemmKernelChoice.Dequant, Parse(("lutgemm-kernel", "dequant")).Kernel);
        Assert.Contains("--lutgemm-kernel fast", Assert.Throws<ArgumentException>(() => Parse(("lutgemm-kernel", "fast"))).Message);
    }

    private static LutGemmOptions Parse(params (string Key, string Value)[] values) =>
        LutGemmOptions.Parse(new QuantMethodOptions { Values = values.ToDictionary(v => v.Key, v => v.Value) });
}
