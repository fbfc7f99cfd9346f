using InferenceServer.Quant.Kernels;

namespace InferenceServer.Quant.Tests;

/// <summary>Every INT8 GEMM path this CPU has must equal a plain int32 reference exactly, odd shapes included.</summary>
public sealed class Int8GemmTests
{
    public static TheoryData<Int8GemmPath> Paths => new(Int8Gemm.AvailablePaths);

    [Theory]
    [MemberData(nameof(Paths))]
    public void MatchesIntegerReference(Int8GemmPath path)
    {
        var rng = new Random(1234);
        // M: decode (1), tiny and odd batches; K: below, between and above 32-byte steps, not multiples of 64;
        // N: odd, below one 4-row group, and large enough to go parallel.
        foreach (int m in new[] { 1, 3, 17, 70 })
        foreach (int k in new[] { 5, 33, 100, 257 })
        foreach (int n in new[] { 1, 3, 7, 45, 301 })
        {
            var a = RandomBytes(rng, m * k, -128);   // activations: any int8
            var b = RandomBytes(rng, n * k, -127);   // weights: symmetric range
            var c = new int[m * n];
            Int8Gemm.Multiply(a, b, c, m, n, k, path);
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                int expected = 0;
                for (int q = 0; q < k; q++) expected += a[i * k + q] * b[j * k + q];
                Assert.True(expected == c[i * n + j], $"{path} M={m} K={k} N={n} at [{i},{j}]: {c[i * n + j]} != {expected}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ExtremeValuesDoNotSaturate(Int8GemmPath path)
    {
        // |a| = 128 against |b| = 127 everywhere: the largest pair sums vpmaddubsw sees (2·128·127 = 32512).
        const int m = 3, n = 5, k = 96;
        var a = Enumerable.Repeat((sbyte)-128, m * k).ToArray();
        var b = Enumerable.Range(0, n * k).Select(i => (sbyte)(i % 2 == 0 ? -127 : 127)).ToArray();
        var b2 = Enumerable.Repeat((sbyte)-127, n * k).ToArray();
        var c = new int[m * n];
        Int8Gemm.Multiply(a, b2, c, m, n, k, path);
        Assert.All(c, v => Assert.Equal(128 * 127 * k, v));
        Int8Gemm.Multiply(a, b, c, m, n, k, path);
        Assert.All(c, v => Assert.Equal(0, v));
    }

    [Fact]
    public void ForcedPathIsUsedWhenNoneIsPassed()
    {
        var a = new sbyte[] { 1, 2, 3 };
        var b = new sbyte[] { 4, 5, 6 };
        var c = new int[1];
        Int8Gemm.ForcedPath = Int8GemmPath.Scalar;
        try { Int8Gemm.Multiply(a, b, c, 1, 1, 3); }
        finally { Int8Gemm.ForcedPath = null; }
        Assert.Equal(32, c[0]);
    }

    /// <summary>
    /// Throughput of each path on a prefill-sized shape (tiny-llama's gate_up: T=1024, K=256, N=1536) and a decode
    /// row against a Llama-sized weight (T=1, K=4096, N=14336); reported, not asserted.
    /// </summary>
    private static sbyte[] RandomBytes(Random rng, int count, int min)
    {
        var r = new sbyte[count];
        for (int i = 0; i < count; i++) r[i] = (sbyte)rng.Next(min, 128);
        return r;
    }
}
