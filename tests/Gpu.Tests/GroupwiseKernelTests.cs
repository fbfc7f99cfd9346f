using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Runtime;
using InferenceServer.Quant.Kernels;
using TorchSharp;
using static TorchSharp.torch;
using static InferenceServer.Gpu.Tests.TestKernels;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// The native group-wise GEMMs (groupwise_gemm.cu) against an exact dequantized reference: W from
/// <see cref="GroupwiseWeight.Quantize"/> on the CPU, dequantized there ((u − z) · s in float32), and a float32 matmul
/// on the device. Covers W4/W8, symmetric/asymmetric, group sizes 32–256, the streaming kernel's token tiles
/// (M = 1, 2, 3, 7, 8, 12, 16, 17, 33, 64, 100), the prefill paths (M = 130, 300, 1024), N not a multiple of 16. INT4 with
/// G = 128·2^s and K a multiple of 256 runs the aligned streaming kernel (groupwise_a16_aligned.cu) up to 128 rows,
/// the other shapes the general one; on Hopper the INT4 cases with G a multiple of 128 and 17–128 rows run the TMA +
/// wgmma kernel (groupwise_gemm_sm90.cu) instead, and every M does with INFERENCE_GROUPWISE_SM90_ALL_M=1.
/// </summary>
public sealed class GroupwiseKernelTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    public static TheoryData<int, bool, int, int, int, int> Shapes => new()
    {
        { 4, false, 128, 1, 4104, 4096 },   // a Llama-width row, several chunks per warp, N not a multiple of 16
        { 4, true, 128, 3, 520, 1024 },
        { 4, false, 32, 8, 520, 768 },
        { 4, false, 64, 16, 520, 768 },
        { 4, true, 256, 17, 520, 1024 },
        { 4, false, 128, 64, 1000, 1024 },
        { 4, false, 128, 100, 520, 1024 },  // several token tiles (32 rows for A16, 64 for A8)
        { 4, true, 32, 33, 520, 768 },      // a partial second A16 tile, scale applied to the fragments (G < 128)
        { 4, false, 128, 1024, 520, 1024 }, // Hopper: 256-token prefill tiles; elsewhere dequantize, then cuBLAS
        { 4, false, 128, 5, 300, 640 },     // K not a multiple of 256: the general kernel; Hopper: K ends mid-stage, split K
        { 4, true, 128, 12, 264, 2048 },    // aligned kernel, two token tiles, symmetric
        { 4, false, 256, 2, 72, 4352 },     // aligned kernel, 2 chunks per group, a last pass with one warp's chunks
        { 4, true, 512, 7, 48, 1024 },      // aligned kernel, 4 chunks per group
        { 4, false, 128, 1, 40, 256 },      // aligned kernel, the smallest K: one warp's chunks, seven idle warps
        { 4, true, 128, 130, 520, 1024 },   // Hopper: one 128-token prefill tile, partly filled
        { 4, false, 256, 300, 1000, 768 },  // Hopper: several prefill tiles, the last partly filled
        { 8, false, 128, 1, 4104, 4096 },
        { 8, true, 32, 3, 520, 768 },
        { 8, false, 64, 17, 520, 768 },
        { 8, true, 128, 64, 520, 1024 },
        { 8, false, 256, 1024, 520, 1024 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesDequantizedReference(int bits, bool symmetric, int group, int m, int n, int k)
    {
        var device = cuda.Require();
        var rng = new Random(bits * 7919 + group * 31 + m * 131 + n + k);
        var wf = new float[(long)n * k];
        for (long i = 0; i < wf.Length; i++) wf[i] = (float)(rng.NextDouble() * 2 - 1) * 0.05f;
        var gw = GroupwiseWeight.Quantize(wf, n, k, bits, group, symmetric);
        var deq = new float[(long)n * k];
        gw.Dequantize(deq, 0, n);
        using var dw = GroupwiseDeviceWeight.Upload(gw, device, Kernels());
        using var wRef = tensor(deq, [n, k]).to(device);              // [N, K] float32, exact dequantized W
        var tag = $"w{bits}{(symmetric ? "s" : "a")}_g{group}_{m}x{n}x{k}";

        // The dequantize kernel computes (u − z) · s in float like the CPU: bit-equal.
        using (var wGpu = Kernels().GroupwiseDequantize(dw.Packed, dw.Scales, dw.Zeros, bits, group, ScalarType.Float32))
            Assert.True(wGpu.eq(wRef).all().item<bool>(), "GPU dequantization differs from the CPU's");

        using var x = randn([m, k], ScalarType.Float32, device);
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            // A16: x is rounded to the 16-bit type; for G < 128 (int4) / 64 (int8) W is too, after its scale (relative
            // 2^-9 for bf16, twice with the scale's own rounding; larger groups keep u − z exact; the prefill path rounds
            // every dequantized weight); the products are accumulated in float in another order than cuBLAS, then y is
            // rounded once. Over K ≥ 768 random terms the sums differ by ≲ 0.3% of y's RMS per element, but rounding y
            // alone costs up to half a bf16 ulp, 2^-8 of |y|: 1.8% of the RMS at the largest of 300,000 outputs (about
            // 4.5 RMS; x is unseeded). 3% of the RMS bounds the max; a wrong scale or code is off by tens of percent.
            using var xs = x.to(dtype);
            using var reference = xs.to(ScalarType.Float32).matmul(wRef.t());
            using var y = Kernels().GroupwiseGemm(xs, dw.Packed, dw.Scales, dw.Zeros, null, bits, group);
            var err = MaxErrorOverRms(y, reference);
            GpuReport.Record($"groupwise_a16_{dtype}_{tag}_max_err_over_rms", err);
            Assert.True(err < 0.03, $"A16 {dtype}: max error {err} of y's RMS");
        }

        // A8: the activations quantized by the native quantizer, then exact int32 sums per group (M ≤ 128), or the INT8
        // rows and W dequantized in float32 for cuBLAS (M > 128): against the float32 product of the same INT8 values
        // the only difference is float accumulation order (≈1e-6 relative).
        var (q, s) = Kernels().QuantizeRows(x, null);
        using (q)
        using (s)
        {
            using var reference = q.to(ScalarType.Float32).matmul(wRef.t()) * s.unsqueeze(1);
            using var y = Kernels().GroupwiseGemmA8(q, s, dw.Packed, dw.Scales, dw.Zeros, null, bits, group, ScalarType.Float32);
            var err = MaxErrorOverRms(y, reference);
            GpuReport.Record($"groupwise_a8_f32_{tag}_max_err_over_rms", err);
            Assert.True(err < 1e-4, $"A8 float32: max error {err} of y's RMS");
            using var bias = randn([n], ScalarType.BFloat16, device);
            using var yb = Kernels().GroupwiseGemmA8(q, s, dw.Packed, dw.Scales, dw.Zeros, bias, bits, group, ScalarType.BFloat16);
            using var refb = Scalars.Add(reference, bias.to(ScalarType.Float32));
            var errb = MaxErrorOverRms(yb, refb);
            // bf16 output: y rounded once (2^-9 relative); above 128 rows the dequantized x and W are bf16 too.
            Assert.True(errb < 0.02, $"A8 bf16 with bias: max error {errb} of y's RMS");
        }
    }

    /// <summary>
    /// The gated MLP's gate/up projection giving silu(gate)·up [M, I] for W = [gate; up] [2I, K]: on 1-16 rows the
    /// aligned kernel pairs each tile's 8 gate rows with their up rows and stores the activation from its epilogue;
    /// elsewhere (17 rows and up, INT8 codes) the projection is written and silu_mul runs. Bit-equal to
    /// <see cref="NativeKernels.GroupwiseGemm"/> then <see cref="NativeKernels.SiluMul"/>, bias included; I not a
    /// multiple of 8 leaves a partial last tile.
    /// </summary>
    [Theory]
    [InlineData(4, false, 128, 1, 4100, 4096)]   // one token: x in shared memory, a partial last tile
    [InlineData(4, true, 256, 3, 100, 1024)]     // three tokens, one token tile per warp
    [InlineData(4, false, 128, 16, 520, 4096)]   // two token tiles, two row tiles per warp where that walks fewer tiles
    [InlineData(4, false, 128, 17, 264, 1024)]   // past 16 rows: the projection, then silu_mul
    [InlineData(8, false, 128, 1, 264, 1024)]    // INT8 codes: the general kernel, then silu_mul
    public void GatedProjectionIsBitEqualToGemmThenSiluMul(int bits, bool symmetric, int group, int m, int inter, int k)
    {
        var device = cuda.Require();
        using var dw = RandomWeight(device, m * 13 + inter + k, bits, symmetric, group, 2 * inter, k);
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
            foreach (var withBias in new[] { false, true })
            {
                using var x = randn([m, k], ScalarType.Float32, device).to(dtype);
                using var bias = withBias ? randn([2 * inter], dtype, device) : null;
                using var gated = Kernels().GroupwiseGemmGated(x, dw.Packed, dw.Scales, dw.Zeros, bias, bits, group);
                using var gateUp = Kernels().GroupwiseGemm(x, dw.Packed, dw.Scales, dw.Zeros, bias, bits, group);
                using var separate = Kernels().SiluMul(gateUp);
                Assert.Equal([m, inter], gated.shape);
                Assert.True(gated.eq(separate).all().item<bool>(), $"{dtype} M={m} I={inter} bias={withBias}: the gated projection differs from the GEMM then silu_mul");
                Assert.True(separate.abs().max().to(ScalarType.Float32).item<float>() > 0.01f);  // not a product of zeros
            }
    }

    [Fact]
    public void BiasAndStridedInputAreHonoured()
    {
        var device = cuda.Require();
        const int n = 264, k = 512, m = 5;
        var rng = new Random(5);
        var wf = new float[n * k];
        for (int i = 0; i < wf.Length; i++) wf[i] = (float)(rng.NextDouble() - 0.5) * 0.1f;
        var gw = GroupwiseWeight.Quantize(wf, n, k, 4, 64, false);
        using var dw = GroupwiseDeviceWeight.Upload(gw, device, Kernels());
        using var wide = randn([m, k + 8], ScalarType.BFloat16, device);
        using var x = wide.narrow(1, 8, k);                                  // rows start 16 bytes in: a view
        using var bias = randn([n], ScalarType.BFloat16, device);
        using var y = Kernels().GroupwiseGemm(x, dw.Packed, dw.Scales, dw.Zeros, bias, 4, 64);
        using var w = Kernels().GroupwiseDequantize(dw.Packed, dw.Scales, dw.Zeros, 4, 64, ScalarType.Float32);
        using var reference = Scalars.Add(x.to(ScalarType.Float32).matmul(w.t()), bias.to(ScalarType.Float32));
        Assert.True(MaxErrorOverRms(y, reference) < 0.02);
    }

    [Fact]
    public void BadArgumentsAreRefusedWithAMessage()
    {
        var device = cuda.Require();
        using var packed = zeros([16, 64], ScalarType.Int32, device);      // K = 512 at 4 bits
        using var scales = ones([16, 8], ScalarType.Float32, device);
        using var x = zeros([2, 512], ScalarType.BFloat16, device);
        var e = Assert.Throws<InvalidOperationException>(() => Kernels().GroupwiseGemm(x, packed, scales, null, null, 4, 48));
        Assert.Contains("group size", e.Message);
        using var xBad = zeros([2, 256], ScalarType.BFloat16, device);
        e = Assert.Throws<InvalidOperationException>(() => Kernels().GroupwiseGemm(xBad, packed, scales, null, null, 4, 64));
        Assert.Contains("x must be [M, K]", e.Message);
    }

    /// <summary>Weights uniform in ±0.05 from <paramref name="seed"/>, quantized on the CPU and uploaded.</summary>
    private static GroupwiseDeviceWeight RandomWeight(Device device, int seed, int bits, bool symmetric, int group, int n, int k)
    {
        var rng = new Random(seed);
        var wf = new float[(long)n * k];
        for (long i = 0; i < wf.Length; i++) wf[i] = (float)(rng.NextDouble() * 2 - 1) * 0.05f;
        return GroupwiseDeviceWeight.Upload(GroupwiseWeight.Quantize(wf, n, k, bits, group, symmetric), device, Kernels());
    }

    private static double MaxErrorOverRms(Tensor y, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var r = reference.to(ScalarType.Float32);
        var rms = r.square().mean().sqrt().item<float>();
        return (y.to(ScalarType.Float32) - r).abs().max().item<float>() / Math.Max(rms, 1e-12);
    }
}
