using InferenceServer.Engine.Kernels;
using InferenceServer.Quant.Formats;
using InferenceServer.Quant.Tests.LutGemm;
using static TorchSharp.torch;
using static InferenceServer.Gpu.Tests.TestKernels;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// The CUDA LUT-GEMM kernels (csrc/lut_gemm.cu) against the matmul of the dequantized weights, computed in double on
/// the host from the format's definition (<see cref="BcqWeights.Weight"/>).
/// Tolerances, per output (r, j):
/// - table kernel: the float32 accumulation bound of the CPU tests, (K + 16)·2^-24·Σ_g (Σ_i |α| + |offset|)·Σ_{k∈g} |x|
///   (float32 tables of 8-sums, chunk and plane sums, α and offset products), plus the output's rounding to the
///   serving dtype (2^-8·|y| in bfloat16, 2^-11 in float16, none in float32);
/// - streaming kernel, and the automatic choice at 2–32 rows where it takes the layer: the same bound (float32 sums of
///   exact ±x products per plane, α and offset products);
/// - tensor-core kernel, and the automatic choice above 8 rows (W dequantized to a temporary, then cuBLAS): every
///   dequantized weight is rounded to the 16-bit dtype (relative 2^-9 in bfloat16, 2^-12 in float16) before float32
///   accumulation, so 2·(that + (K + 16)·2^-24)·Σ_k |w||x| plus the output's rounding.
/// Activations are rounded to the dtype first and the reference uses the rounded values; with float16 scales the
/// reference uses the rounded scales too.
/// </summary>
public sealed class LutGemmKernelTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    public static TheoryData<int, int, int, int, int> Shapes() => new()
    {
        // bits, group, M, N, K
        { 1, 32, 1, 520, 96 },
        { 2, 64, 3, 4104, 200 },     // K not a multiple of the group nor of 32: a short last group, a partial last word
        { 3, 128, 8, 520, 1000 },
        { 3, 64, 2, 520, 1000 },     // two rows: 8-byte table entries
        { 4, 256, 1, 4104, 4096 },
        { 3, 128, 17, 520, 4104 },   // M above the table kernel's 8 rows: tensor cores (16-bit), 3 table launches (float32)
        { 4, 32, 64, 4104, 512 },
        { 2, 128, 64, 520, 260 },    // K not a multiple of 8: the automatic choice keeps the table kernel
        { 1, 256, 3, 96, 4104 },
        { 4, 64, 17, 1024, 1024 },
        { 2, 128, 100, 264, 512 },   // Hopper tensor cores: one 128-token prefill tile, partly filled
        { 3, 128, 300, 520, 768 },   // Hopper tensor cores: several prefill tiles
        { 3, 128, 16, 520, 1024 },   // the streaming kernel: two token tiles, the last 32-channel tile partly past N
        { 4, 256, 33, 264, 2048 },   // streaming, two 32-token tiles on grid.y, G = 256
        { 2, 128, 4, 1032, 512 },    // streaming beside the table kernel at 4 rows
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesDequantizedMatmul(int bits, int group, int m, int n, int k)
    {
        var device = cuda.Require();
        var packed = BcqTestData.RandomPacked(n, k, bits, group, seed: bits * 1000 + k + n);
        var xHost = BcqTestData.Normal(m * k, seed: m + n + k);
        double worst = 0;
        // float32 scales (the format) and float16 scales (what the engine uploads for 16-bit serving; the reference
        // then uses the float16-rounded scales).
        foreach (var halfScales in new[] { false, true })
        {
            var w = halfScales ? WithHalfScales(packed) : packed;
            var (signs, alpha, offset) = Upload(w, device, halfScales);
            var dense = w.Dequantize();
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
            {
                using var x = tensor(xHost, [m, k]).to(dtype).to(device);
                var xr = Rounded(x);
                var reference = BcqTestData.ReferenceMatmul(xr, dense, m, n, k);
                var kernels = new List<NativeKernels.LutGemmKernel> { NativeKernels.LutGemmKernel.Table, NativeKernels.LutGemmKernel.Auto };
                if (dtype != ScalarType.Float32 && k % 8 == 0) kernels.Add(NativeKernels.LutGemmKernel.TensorCore);
                bool stream = dtype != ScalarType.Float32 && NativeKernels.LutGemmStreamTakes(n, k, group);
                if (stream) kernels.Add(NativeKernels.LutGemmKernel.Stream);
                foreach (var kernel in kernels)
                {
                    bool autoStream = kernel == NativeKernels.LutGemmKernel.Auto && stream && NativeKernels.LutGemmAutoStream
                        && m >= NativeKernels.LutGemmMinStreamRows && m <= NativeKernels.LutGemmMaxStreamRows;
                    bool tensorCores = kernel == NativeKernels.LutGemmKernel.TensorCore
                        || (kernel == NativeKernels.LutGemmKernel.Auto && !autoStream && m > NativeKernels.LutGemmMaxTableRows && dtype != ScalarType.Float32 && k % 8 == 0);
                    using var y = Kernels().LutGemm(x, signs, alpha, offset, null, group, kernel);
                    var got = Rounded(y);
                    for (int r = 0; r < m; r++)
                        for (int j = 0; j < n; j++)
                        {
                            double refv = reference[r * n + j], err = Math.Abs(got[r * n + j] - refv);
                            double tol = (tensorCores ? TensorCoreBound(dense, xr, r, j, k, dtype) : BcqTestData.Tolerance(w, xr, r, j)) + OutputRounding(dtype) * Math.Abs(refv);
                            worst = Math.Max(worst, err / tol);
                            Assert.True(err <= tol, $"{kernel} {dtype} half scales {halfScales} q={bits} g={group} [{m}, {n}, {k}] y[{r}, {j}] = {got[r * n + j]}, reference {refv}: error {err:E2} > bound {tol:E2}");
                        }
                }
            }
            signs.Dispose();
            alpha.Dispose();
            offset.Dispose();
        }
        GpuReport.Record($"lutgemm_q{bits}_g{group}_{m}x{n}x{k}_worst_error_over_bound", worst);
    }

    /// <summary>The CPU LUT-GEMM and the CUDA table kernel agree in float32 within the sum of their two bounds.</summary>
    [Theory]
    [InlineData(3, 128, 1, 520, 4096)]
    [InlineData(4, 64, 5, 4104, 1000)]
    [InlineData(2, 32, 8, 96, 200)]
    public void CudaTableKernelEqualsCpuLutGemm(int bits, int group, int m, int n, int k)
    {
        var device = cuda.Require();
        var w = BcqTestData.RandomPacked(n, k, bits, group, seed: 17 * bits + m);
        var (signs, alpha, offset) = Upload(w, device);
        var x = BcqTestData.Normal(m * k, seed: 5 * m + k);
        var cpu = new float[m * n];
        Quant.Kernels.LutGemm.Multiply(x, w, cpu, m);
        using var xd = tensor(x, [m, k]).to(device);
        using var y = Kernels().LutGemm(xd, signs, alpha, offset, null, group, NativeKernels.LutGemmKernel.Table);
        var got = Rounded(y);
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++)
            {
                double err = Math.Abs(got[r * n + j] - cpu[r * n + j]), tol = 2 * BcqTestData.Tolerance(w, x, r, j);
                Assert.True(err <= tol, $"q={bits} g={group} [{m}, {n}, {k}] y[{r}, {j}]: CUDA {got[r * n + j]}, CPU {cpu[r * n + j]}, error {err:E2} > {tol:E2}");
            }
    }

    /// <summary>Bias is added once, in the output dtype, on both kernels; the baseline's dequantization equals the format's definition.</summary>
    [Fact]
    public void BiasAndDequantizationFollowTheFormat()
    {
        var device = cuda.Require();
        const int n = 520, k = 1024, group = 128;
        var w = BcqTestData.RandomPacked(n, k, 3, group, seed: 3);
        var (signs, alpha, offset) = Upload(w, device);
        using var wd = Kernels().BcqDequantize(signs, alpha, offset, k, group, ScalarType.Float32);
        var got = Rounded(wd);
        var dense = w.Dequantize();
        // Σ_i α_i·b_i + offset in float on both sides, summed in another order: each addition rounds relative to the
        // terms' magnitudes (which cancel to a much smaller weight), so the bound scales with Σ|α_i| + |offset|.
        for (int i = 0; i < dense.Length; i++)
        {
            int row = i / k, g = i % k / group;
            double terms = Math.Abs(w.Offset[g * n + row]);
            for (int p = 0; p < w.Bits; p++) terms += Math.Abs(w.Alpha[(p * w.Groups + g) * n + row]);
            Assert.True(Math.Abs(got[i] - dense[i]) <= 8 * Math.Pow(2, -24) * terms, $"weight {i}: {got[i]} vs {dense[i]}");
        }
        using var bias = randn([n], ScalarType.BFloat16, device);
        using var x = randn([20, k], ScalarType.BFloat16, device);
        foreach (var kernel in new[] { NativeKernels.LutGemmKernel.Table, NativeKernels.LutGemmKernel.TensorCore })
        {
            using var withBias = Kernels().LutGemm(x, signs, alpha, offset, bias, group, kernel).to(ScalarType.Float32);
            using var without = Kernels().LutGemm(x, signs, alpha, offset, null, group, kernel).to(ScalarType.Float32);
            var diff = (withBias - without - bias.to(ScalarType.Float32)).abs().max().item<float>();
            var scale = without.abs().max().item<float>() + bias.to(ScalarType.Float32).abs().max().item<float>();
            Assert.True(diff <= 2 * Math.Pow(2, -8) * scale, $"{kernel}: bias off by {diff} (scale {scale})");
        }
    }

    [Fact]
    public void RefusesShapesTheKernelsDoNotTake()
    {
        var device = cuda.Require();
        var w = BcqTestData.RandomPacked(64, 256, 2, 16, seed: 1);   // group 16: not a multiple of 32
        var (signs, alpha, offset) = Upload(w, device);
        using var x = randn([1, 256], ScalarType.BFloat16, device);
        var e = Assert.Throws<InvalidOperationException>(() => Kernels().LutGemm(x, signs, alpha, offset, null, 16));
        Assert.Contains("multiple of 32", e.Message);
        Assert.False(NativeKernels.LutGemmTakes(64, 16));
        Assert.False(NativeKernels.LutGemmTakes(66, 128));
    }

    internal static (Tensor Signs, Tensor Alpha, Tensor Offset) Upload(BcqWeights w, Device device, bool halfScales = false)
    {
        var (s, a, o) = Quant.LutGemm.BcqTensors.TensorsOf(w);
        var scales = halfScales ? ScalarType.Float16 : ScalarType.Float32;
        using (s) using (a) using (o) return (s.to(device), a.to(scales).to(device), o.to(scales).to(device));
    }

    /// <summary>The same weights with α and offsets rounded to float16 (kept as float32 values).</summary>
    private static BcqWeights WithHalfScales(BcqWeights w) => new(w.OutFeatures, w.InFeatures, w.Bits, w.GroupSize, w.Signs,
        w.Alpha.Select(v => (float)(Half)v).ToArray(), w.Offset.Select(v => (float)(Half)v).ToArray());

    private static float[] Rounded(Tensor t)
    {
        using var f = t.to(ScalarType.Float32).cpu().contiguous();
        return f.data<float>().ToArray();
    }

    private static double OutputRounding(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => Math.Pow(2, -8),
        ScalarType.Float16 => Math.Pow(2, -11),
        _ => 0,
    };

    private static double TensorCoreBound(float[] dense, float[] x, int r, int j, int k, ScalarType dtype)
    {
        double s = 0;
        for (int c = 0; c < k; c++) s += Math.Abs((double)dense[j * k + c] * x[r * k + c]);
        double weightRounding = dtype == ScalarType.BFloat16 ? Math.Pow(2, -9) : Math.Pow(2, -12);
        return 2 * (weightRounding + (k + 16) * Math.Pow(2, -24)) * s;
    }
}
