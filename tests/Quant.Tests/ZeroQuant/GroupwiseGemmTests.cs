using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests.ZeroQuant;

/// <summary>
/// The CPU group-wise kernel against an exact reference: the weights dequantized code by code from the packed words
/// (<see cref="GroupwiseWeight.Code"/>), multiplied in double. Odd M (1, 3, 17), odd N, both bit widths, both zero-point modes.
/// </summary>
public sealed class GroupwiseGemmTests
{
    public static TheoryData<int, int, bool> Schemes => new()
    {
        { 4, 32, false }, { 4, 64, true }, { 4, 128, false }, { 8, 32, true }, { 8, 128, false }, { 8, 256, true },
    };

    [Theory]
    [MemberData(nameof(Schemes))]
    public void MatchesDequantizedReference(int bits, int group, bool symmetric)
    {
        var rng = new Random(bits * 1000 + group + (symmetric ? 1 : 0));
        foreach (bool scalar in new[] { false, true })
        foreach (int m in new[] { 1, 3, 17 })
        foreach (int n in new[] { 1, 7, 45 })
        {
            int k = group * 3;
            var w = Random(rng, n * k, 0.05f);
            var x = Random(rng, m * k, 1f);
            var gw = GroupwiseWeight.Quantize(w, n, k, bits, group, symmetric);
            var y = new float[m * n];
            GroupwiseGemm.ForceScalar = scalar;
            try { GroupwiseGemm.Multiply(x, m, gw, y); }
            finally { GroupwiseGemm.ForceScalar = null; }
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double expected = 0, magnitude = 0;
                for (int q = 0; q < k; q++)
                {
                    int g = q / group;
                    double wq = (gw.Code(j, q) - gw.Zeros[j * gw.Groups + g]) * (double)gw.Scales[j * gw.Groups + g];
                    expected += x[i * k + q] * wq;
                    magnitude += Math.Abs(x[i * k + q] * wq);
                }
                Assert.True(Math.Abs(y[i * n + j] - expected) <= 1e-5 * magnitude + 1e-6,
                    $"W{bits} g{group} {(symmetric ? "sym" : "asym")} {(scalar ? "scalar" : "simd")} M={m} N={n} [{i},{j}]: {y[i * n + j]} vs {expected}");
            }
        }
    }

    /// <summary>The prefill path (dequantize, then MKL) and the decode path agree with the same reference through the layer.</summary>
    [Theory]
    [InlineData(4, 1), InlineData(4, 70), InlineData(8, 3), InlineData(8, 70)]
    public void LinearKernelMatchesReferenceOnBothPaths(int bits, int m)
    {
        var rng = new Random(bits + m);
        const int n = 45, k = 256, group = 64;
        var w = Random(rng, n * k, 0.05f);
        var gw = GroupwiseWeight.Quantize(w, n, k, bits, group, false);
        var deq = new float[n * k];
        gw.Dequantize(deq, 0, n);
        using var x = tensor(Random(rng, m * k, 1f), [m, k]);
        using var bias = tensor(Random(rng, n, 1f), [n]);
        using var kernel = new GroupwiseLinearKernel(gw, 16, bias.clone());
        using var y = kernel.Forward(x);
        using var reference = nn.functional.linear(x.to(ScalarType.Float64), tensor(deq, [n, k]).to(ScalarType.Float64), bias.to(ScalarType.Float64));
        double err = (y.to(ScalarType.Float64) - reference).abs().max().item<double>();
        Assert.True(err < 1e-4, $"W{bits} M={m}: max error {err}");
    }

    [Fact]
    public void QuantizationErrorIsAtMostHalfAStep()
    {
        var rng = new Random(7);
        const int n = 9, k = 256;
        var w = Random(rng, n * k, 0.05f);
        foreach (bool symmetric in new[] { false, true })
        {
            var gw = GroupwiseWeight.Quantize(w, n, k, 4, 64, symmetric);
            var deq = new float[n * k];
            gw.Dequantize(deq, 0, n);
            for (int i = 0; i < n * k; i++)
                Assert.True(Math.Abs(deq[i] - w[i]) <= gw.Scales[i / 64] * 0.5001f, $"{(symmetric ? "sym" : "asym")} [{i}]: {w[i]} → {deq[i]}");
        }
    }

    [Fact]
    public void InputSizeNotAMultipleOfTheGroupIsRefusedByName()
    {
        var e = Assert.Throws<ArgumentException>(() => GroupwiseWeight.Check(4, 128, 200, "model.layers.0.mlp.down_proj"));
        Assert.Contains("model.layers.0.mlp.down_proj", e.Message);
        Assert.Contains("200", e.Message);
        Assert.Throws<ArgumentException>(() => GroupwiseWeight.Check(3, 128, 256, null));
        Assert.Throws<ArgumentException>(() => GroupwiseWeight.Check(4, 12, 240, null));
    }

    /// <summary>
    /// The packed words follow compressed-tensors' pack_to_int32: signed values offset by 8, 8 codes per int32, code i
    /// at bits [4i, 4i + 4). Weights −7..7 with max |w| = 7 have scale 1, so the codes are w + 8.
    /// </summary>
    [Fact]
    public void PackingFollowsCompressedTensorsLayout()
    {
        var w = new float[16];
        for (int i = 0; i < 15; i++) w[i] = i - 7;
        w[15] = 7;
        var gw = GroupwiseWeight.Quantize(w, 1, 16, 4, 16, symmetric: true);
        Assert.Equal(1f, gw.Scales[0]);
        Assert.Equal(8, gw.Zeros[0]);
        Assert.Equal(unchecked((int)0x87654321), gw.Packed[0]);
        Assert.Equal(unchecked((int)0xFFEDCBA9), gw.Packed[1]);
    }

    private static float[] Random(Random rng, int count, float scale)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}
