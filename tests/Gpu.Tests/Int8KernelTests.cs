using InferenceServer.Engine.Kernels;
using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;
using static InferenceServer.Engine.Runtime.Scalars;
using static InferenceServer.Gpu.Tests.TestKernels;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// The native INT8 GEMMs (on Hopper: mma.sync skinny up to 8 rows, the TMA skinny kernel for 9–32 and 65–128,
/// cuBLASLt plus the epilogue pass for 33–64, the TMA wgmma kernel above; elsewhere mma.sync skinny and tiled kernels)
/// against the exact integer reference, the fused activation quantizers against the unfused formula, and the bf16
/// skinny GEMM against cuBLAS.
/// </summary>
public sealed class Int8KernelTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    [Theory]
    [InlineData(1, 16, 64)]
    [InlineData(3, 40, 100)]      // K not a multiple of 16: padded
    [InlineData(12, 200, 1040)]   // 9–32 rows on Hopper: the TMA kernel, K split over a cluster of blocks
    [InlineData(17, 100, 4144)]   // K a multiple of 16, not of 64: the tail chunk
    [InlineData(8, 256, 4096)]
    [InlineData(17, 136, 1040)]   // a cluster of 8 blocks over 9 K slices: the last ranks get none
    [InlineData(33, 48, 192)]     // 33–64 rows with N a multiple of 8 on Hopper: cuBLASLt's INT32 sums, then the epilogue pass
    [InlineData(48, 4096, 4096)]
    [InlineData(128, 264, 1040)]  // 65–128 rows on Hopper: the TMA skinny kernel's 128-column token tile
    [InlineData(64, 130, 320)]
    [InlineData(65, 130, 320)]    // first size on the tiled kernel elsewhere
    [InlineData(200, 300, 1040)]
    [InlineData(1024, 512, 2048)]
    [InlineData(300, 4096, 4160)]     // K with a partial 128-byte slice, N and M not tile multiples
    [InlineData(2100, 520, 272)]      // more row tiles than one raster group (16 × 128), the last group partial
    [InlineData(1000, 4000, 272)]     // Hopper tile widths (tile_width): 256 here, 192 on the next, 128 on the smaller shapes
    [InlineData(1000, 6100, 144)]     // 192-wide tiles over N = 6100 (two full waves), a partial second K slice
    public void Int8GemmEqualsIntegerReference(int m, int n, int k)
    {
        var device = cuda.Require();
        var rng = new Random(m * 7919 + n * 31 + k);
        var a = new sbyte[m * k];
        var b = new sbyte[n * k];
        for (int i = 0; i < a.Length; i++) a[i] = (sbyte)rng.Next(-128, 128);
        for (int i = 0; i < b.Length; i++) b[i] = (sbyte)rng.Next(-127, 128);
        var expected = new int[m * n];
        Int8Gemm.Multiply(a, b, expected, m, n, k);

        using var xq = tensor(a, [m, k]).to(device);
        using var wq = tensor(b, [n, k]).to(device);
        // Unit scales and float32 output: the epilogue must reproduce the int32 sums exactly (all |sum| < 2^24).
        using var ones_m = ones([m], ScalarType.Float32, device);
        using var ones_n = ones([n], ScalarType.Float32, device);
        // Above 64 rows both large-M kernels (wgmma on Hopper, mma.sync elsewhere) are checked.
        foreach (var wgmma in m > NativeKernels.SkinnyMaxRows ? new[] { true, false } : [true])
        {
            bool before = Kernels().UseWgmma(wgmma);
            try
            {
                using var exact = Kernels().Int8Gemm(xq, ones_m, wq, ones_n, null, ScalarType.Float32);
                var got = exact.cpu().data<float>().ToArray();
                int mismatches = 0;
                for (int i = 0; i < got.Length; i++) if (got[i] != expected[i]) mismatches++;
                Assert.True(mismatches == 0, $"{mismatches} of {got.Length} sums differ (wgmma requested: {wgmma})");
            }
            finally
            {
                Kernels().UseWgmma(before);
            }
        }

        // Real scales, bias and bf16 output: y = acc · sx[m] · sw[n] + b[n], rounded once to bf16.
        using var sx = rand([m], ScalarType.Float32, device).add_(Of(0.01), OneF);
        using var sw = rand([n], ScalarType.Float32, device).mul_(Of(0.001));
        using var bias = randn([n], ScalarType.BFloat16, device);
        using var y = Kernels().Int8Gemm(xq, sx, wq, sw, bias, ScalarType.BFloat16);
        using var reference = Add(tensor(expected, [m, n]).to(ScalarType.Float32).to(device) * sx.unsqueeze(1) * sw, bias.to(ScalarType.Float32));
        var rel = ((y.to(ScalarType.Float32) - reference).abs() / reference.abs().add(Of(1e-3), OneF)).max().item<float>();
        GpuReport.Record($"int8_gemm_{m}x{n}x{k}_bf16_max_rel_error", rel);
        Assert.True(rel < 8e-3, $"max relative error {rel} (bf16 rounding is 3.9e-3)");
    }

    [Theory]
    [InlineData(1, 4096, 4096)]
    [InlineData(5, 40, 200)]
    [InlineData(17, 6144, 4096)]
    [InlineData(64, 136, 4104)]
    public void SkinnyLinearMatchesCublas(int m, int n, int k)
    {
        var device = cuda.Require();
        manual_seed(m + n + k);
        using var x = randn([m, k], ScalarType.BFloat16, device);
        using var w = randn([n, k], ScalarType.BFloat16, device).mul_(Of(0.05));
        using var bias = randn([n], ScalarType.BFloat16, device);
        using var ours = Kernels().SkinnyLinear(x, w, bias).to(ScalarType.Float32);
        using var exact = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64), bias.to(ScalarType.Float64)).to(ScalarType.Float32);
        using var cublas = nn.functional.linear(x, w, bias).to(ScalarType.Float32);
        float ourErr = (ours - exact).abs().max().item<float>(), cublasErr = (cublas - exact).abs().max().item<float>();
        GpuReport.Record($"skinny_linear_{m}x{n}x{k}_max_abs_error", new { ours = ourErr, cublas = cublasErr });
        // Both round the float32 sum once to bf16; allow twice cuBLAS's error or one bf16 step at this magnitude.
        Assert.True(ourErr <= Math.Max(2 * cublasErr, 0.02f), $"ours {ourErr}, cuBLAS {cublasErr}");
    }

    public static TheoryData<bool> StaticModes => [false, true];

    [Theory]
    [MemberData(nameof(StaticModes))]
    public void FusedQuantizersMatchTheUnfusedFormula(bool staticScale)
    {
        var device = cuda.Require();
        var kernels = Kernels();
        manual_seed(3);
        float? s = staticScale ? 0.03f : null;
        // RMSNorm → INT8: the reference is the native RMSNorm (bf16) quantized by the same formula on the CPU.
        using var x = randn([19, 4096], ScalarType.BFloat16, device).mul_(Of(3));
        using var w = rand([4096], ScalarType.BFloat16, device).add_(Of(0.5), OneF);
        var (q1, s1) = kernels.RmsNormQuant(x, w, 1e-5, s);
        AssertQuantized(kernels.RmsNorm(x, w, 1e-5), q1, s1, s, "rms_norm_quant");
        // SiLU·mul → INT8.
        using var gu = randn([7, 2 * 1000], ScalarType.BFloat16, device).mul_(Of(2));
        var (q2, s2) = kernels.SiluMulQuant(gu, s);
        AssertQuantized(kernels.SiluMul(gu), q2, s2, s, "silu_mul_quant", exact: true);
        // Plain rows, from a strided view (the attention output of a fused qkv can be one).
        using var wide = randn([5, 300], ScalarType.BFloat16, device);
        var view = wide.narrow(1, 20, 256);
        var (q3, s3) = kernels.QuantizeRows(view, s);
        AssertQuantized(view, q3, s3, s, "quantize_rows", exact: true);
        // Decode-step rows wider than 8192, which a cluster of blocks shares (a slice each, the abs-max met in
        // distributed shared memory).
        using var gu1 = randn([1, 2 * 14336], ScalarType.BFloat16, device).mul_(Of(2));
        var (q4, s4) = kernels.SiluMulQuant(gu1, s);
        AssertQuantized(kernels.SiluMul(gu1), q4, s4, s, "silu_mul_quant_one_row", exact: true);
        using var rows3 = randn([3, 12288], ScalarType.BFloat16, device);
        var (q5, s5) = kernels.QuantizeRows(rows3, s);
        AssertQuantized(rows3, q5, s5, s, "quantize_rows_three_rows", exact: true);
        // Ties: with abs-max 63.5 the scale is 0.5 and every other value sits on a half-integer level, which must round
        // half to even like torch (the quantizers multiply by the reciprocal and fall back to the exact quotient there).
        var ties = new float[2 * 4096];
        for (int i = 0; i < ties.Length; i++) ties[i] = i % 4096 == 0 ? 63.5f : ((i % 253) - 126) * 0.5f + 0.25f;
        using var tieRows = tensor(ties, [2, 4096]).to(device);
        var (qTies, sTies) = kernels.QuantizeRows(tieRows, null);
        AssertQuantized(tieRows, qTies, sTies, null, "quantize_rows_ties", exact: true);
        // Rows wider than 8192 (a cluster of blocks per row, up to 16 rows): the norm against its formula in float32,
        // then its INT8 against the bf16 kernel's output, level for level (the two share the cluster's reduction order).
        using var xWide = randn([5, 14336], ScalarType.BFloat16, device);
        using var wWide = rand([14336], ScalarType.BFloat16, device).add_(Of(0.5), OneF);
        using var normedWide = kernels.RmsNorm(xWide, wWide, 1e-5);
        using var xf = xWide.to(ScalarType.Float32);
        using var expectedNorm = (xf * (xf * xf).mean([-1L], keepdim: true).add(Of(1e-5), OneF).rsqrt()).to(ScalarType.BFloat16) * wWide;
        var normErr = ((normedWide.to(ScalarType.Float32) - expectedNorm.to(ScalarType.Float32)).abs().max() / expectedNorm.to(ScalarType.Float32).abs().max()).item<float>();
        Assert.True(normErr < 1e-2, $"rms_norm of 14336-wide rows: max error {normErr} of the largest value");
        var (qWide, sWide) = kernels.RmsNormQuant(xWide, wWide, 1e-5, s);
        AssertQuantized(normedWide, qWide, sWide, s, "rms_norm_quant_wide_rows", exact: true);
        // The same rows as 20 (more than a cluster's 16): a block per row, 7 vectors per thread.
        using var xWide20 = randn([20, 14336], ScalarType.BFloat16, device);
        var (q20, s20) = kernels.RmsNormQuant(xWide20, wWide, 1e-5, s);
        AssertQuantized(kernels.RmsNorm(xWide20, wWide, 1e-5), q20, s20, s, "rms_norm_quant_wide_rows_20");
        // The residual add on few wide rows (a cluster of blocks per row, bf16 and INT8 alike): the residual written
        // back is T(residual + delta) in both, and the INT8 is that of the bf16 kernel's output, level for level.
        using var res = randn([3, 14336], ScalarType.BFloat16, device);
        using var delta = randn([3, 14336], ScalarType.BFloat16, device);
        using var expectedRes = Add(res.to(ScalarType.Float32), delta.to(ScalarType.Float32)).to(ScalarType.BFloat16);
        using var resQ = res.clone();
        using var normedAdd = kernels.AddRmsNorm(res, delta, wWide, 1e-5);
        var (qAdd, sAdd) = kernels.AddRmsNormQuant(resQ, delta, wWide, 1e-5, s);
        Assert.True(res.ne(expectedRes).sum().item<long>() == 0 && resQ.ne(expectedRes).sum().item<long>() == 0,
            "add_rms_norm(_quant) of 14336-wide rows: the residual written back differs from T(residual + delta)");
        using var rf = expectedRes.to(ScalarType.Float32);
        using var expectedAdd = (rf * (rf * rf).mean([-1L], keepdim: true).add(Of(1e-5), OneF).rsqrt()).to(ScalarType.BFloat16) * wWide;
        var addErr = ((normedAdd.to(ScalarType.Float32) - expectedAdd.to(ScalarType.Float32)).abs().max() / expectedAdd.to(ScalarType.Float32).abs().max()).item<float>();
        Assert.True(addErr < 1e-2, $"add_rms_norm of 14336-wide rows: max error {addErr} of the largest value");
        AssertQuantized(normedAdd, qAdd, sAdd, s, "add_rms_norm_quant_wide_rows", exact: true);
        // Prefill rows (more than a cluster's 16), a block each with the row in registers.
        using var rows40 = randn([40, 14336], ScalarType.BFloat16, device);
        var (q6, s6) = kernels.QuantizeRows(rows40, s);
        AssertQuantized(rows40, q6, s6, s, "quantize_rows_forty_rows", exact: true);
        using var gu24 = randn([24, 2 * 1000], ScalarType.BFloat16, device).mul_(Of(2));
        var (q7, s7) = kernels.SiluMulQuant(gu24, s);
        AssertQuantized(kernels.SiluMul(gu24), q7, s7, s, "silu_mul_quant_24_rows", exact: true);
    }

    /// <summary>
    /// q and scale against (v / scale).round().clamp(±127) with scale = abs-max/127 (or the static scale), on the CPU.
    /// <paramref name="exact"/>: v holds exactly the values the kernel quantized, so every level must match.
    /// </summary>
    private static void AssertQuantized(Tensor v, Tensor q, Tensor scale, float? staticScale, string what, bool exact = false)
    {
        using var vf = v.to(ScalarType.Float32).cpu();
        using var expectedScale = staticScale is float st
            ? full([v.shape[0], 1], Of(st), ScalarType.Float32)
            : vf.abs().amax([1L], keepdim: true).clamp_min(Of(1e-8)).div(Of(127));
        using var expectedQ = (vf / expectedScale).round().clamp(Of(-127), Of(127)).to(ScalarType.Int32);
        var scaleErr = ((scale.cpu().unsqueeze(1) - expectedScale).abs() / expectedScale).max().item<float>();
        Assert.True(scaleErr < 1e-6, $"{what}: scale relative error {scaleErr}");
        using var diff = (q.cpu().to(ScalarType.Int32) - expectedQ).abs();
        long off = diff.gt(ZeroL).sum().item<long>();
        int maxDiff = diff.max().item<int>();
        GpuReport.Record($"{what}_{(staticScale is null ? "dynamic" : "static")}_levels_off", off);
        // The norm's float32 reduction order may differ from the reference kernel's by an ulp, which can move a value
        // across a rounding boundary: at most one level, on a handful of elements.
        Assert.True(exact ? off == 0 : maxDiff <= 1 && off <= diff.numel() / 1000, $"{what}: {off} of {diff.numel()} levels off, max {maxDiff}");
    }
}
