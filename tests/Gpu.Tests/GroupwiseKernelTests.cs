using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Runtime;
using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

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
    private static NativeKernels Kernels() => NativeKernels.TryGet(out var why) ?? throw new InvalidOperationException(why);

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

    /// <summary>
    /// The gated MLP's down projection from gate_up [M, 2K]: at one token on the aligned kernel, with
    /// INFERENCE_GROUPWISE_FUSED_INPUT=1 (tests/scripts/gpu/round-AI.sh sets it), silu(gate)·up is computed as the
    /// kernel copies x; elsewhere (more tokens, INT8 codes, K past what x may occupy in shared memory, the switch off)
    /// silu_mul writes a temporary first. Either way the kernel sees the values silu_mul writes: bit-equal to
    /// <see cref="NativeKernels.SiluMul"/> then <see cref="NativeKernels.GroupwiseGemm"/>, bias included.
    /// </summary>
    [Theory]
    [InlineData(4, false, 128, 1, 4104, 4096)]   // fused
    [InlineData(4, true, 256, 1, 520, 14336)]    // fused, Llama-3-8B's down projection K
    [InlineData(4, false, 128, 3, 520, 1024)]    // three tokens: silu_mul, then the streaming kernel
    [InlineData(8, false, 128, 1, 264, 1024)]    // INT8 codes: silu_mul, then the general kernel
    [InlineData(4, false, 128, 1, 72, 16640)]    // K past 16384: silu_mul, then x from global memory
    public void SiluInputIsBitEqualToSiluMulThenGemm(int bits, bool symmetric, int group, int m, int n, int k)
    {
        var device = cuda.Require();
        using var dw = RandomWeight(device, m * 31 + n + k, bits, symmetric, group, n, k);
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            using var gateUp = randn([m, 2 * k], ScalarType.Float32, device).mul(Scalars.Of(2)).to(dtype);
            using var bias = randn([n], dtype, device);
            using var fused = Kernels().GroupwiseGemmSilu(gateUp, dw.Packed, dw.Scales, dw.Zeros, bias, bits, group);
            using var activated = Kernels().SiluMul(gateUp);
            using var separate = Kernels().GroupwiseGemm(activated, dw.Packed, dw.Scales, dw.Zeros, bias, bits, group);
            Assert.True(fused.eq(separate).all().item<bool>(), $"{dtype} M={m} K={k}: the fused down projection differs from silu_mul then the GEMM");
            Assert.True(separate.abs().max().to(ScalarType.Float32).item<float>() > 0.1f);  // not a product of zeros
        }
        using var narrow = zeros([1, k], ScalarType.BFloat16, device);
        var e = Assert.Throws<InvalidOperationException>(() => Kernels().GroupwiseGemmSilu(narrow, dw.Packed, dw.Scales, dw.Zeros, null, bits, group));
        Assert.Contains("gate_up must be [M, 2K]", e.Message);
    }

    /// <summary>
    /// A norm and the projection it feeds from the residual stream: at one token on the aligned kernel, with
    /// INFERENCE_GROUPWISE_FUSED_INPUT=1, RMSNorm (after the residual add) is computed as the kernel copies x;
    /// elsewhere the norm kernel writes a temporary first. Against
    /// <see cref="NativeKernels.AddRmsNorm"/> / <see cref="NativeKernels.RmsNorm"/> then
    /// <see cref="NativeKernels.GroupwiseGemm"/>: the residual is bit-equal; the product differs only where the two
    /// sums of squares (added in different orders) round a normalized value differently, rarely and by one unit in
    /// its last place. Such a value moves each output by ~10^-4 of y's RMS, which can still flip the output's own
    /// rounding (one bf16 unit: up to 1.8% of the RMS at the largest outputs): the largest error stays within 3% of
    /// the RMS and the mean within 0.1%, where a missing weight or a wrong scale is off by tens of percent. Run twice,
    /// as a replayed graph would: the kernel's arrival counter goes back to zero.
    /// </summary>
    [Theory]
    [InlineData(4, false, 128, 1, 4104, 4096, true)]   // fused, with the residual add
    [InlineData(4, true, 256, 1, 520, 4096, false)]    // fused, a plain norm (the first layer)
    [InlineData(4, false, 128, 3, 520, 1024, true)]    // three tokens: the norm kernel, then the streaming kernel
    [InlineData(8, false, 128, 1, 264, 1024, true)]    // INT8 codes: the norm kernel, then the general kernel
    public void NormInputMatchesNormThenGemm(int bits, bool symmetric, int group, int m, int n, int k, bool add)
    {
        var device = cuda.Require();
        using var dw = RandomWeight(device, m * 17 + n + k, bits, symmetric, group, n, k);
        using var arrivals = zeros([1], ScalarType.Int32, device);
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            using var residual0 = randn([m, k], ScalarType.Float32, device).mul(Scalars.Of(2)).to(dtype);
            using var delta = add ? randn([m, k], dtype, device) : null;
            using var normWeight = randn([k], ScalarType.Float32, device).mul(Scalars.Of(0.1)).add(Scalars.OneF, Scalars.OneF).to(dtype);
            using var bias = randn([n], dtype, device);
            using var residualRef = residual0.clone();
            using var normed = add ? Kernels().AddRmsNorm(residualRef, delta!, normWeight, 1e-5) : Kernels().RmsNorm(residualRef, normWeight, 1e-5);
            using var reference = Kernels().GroupwiseGemm(normed, dw.Packed, dw.Scales, dw.Zeros, bias, bits, group);
            for (int run = 0; run < 2; run++)
            {
                using var residual = residual0.clone();
                using var y = Kernels().GroupwiseGemmRmsNorm(residual, delta, normWeight, 1e-5, arrivals, dw.Packed, dw.Scales, dw.Zeros, bias, bits, group);
                Assert.True(residual.eq(residualRef).all().item<bool>(), $"{dtype} M={m} run {run}: the residual differs from add_rms_norm's");
                Assert.Equal(0, arrivals.item<int>());
                var (max, mean) = (MaxErrorOverRms(y, reference), MeanErrorOverRms(y, reference));
                GpuReport.Record($"groupwise_norm_input_{dtype}_{m}x{n}x{k}_max_err_over_rms", max);
                GpuReport.Record($"groupwise_norm_input_{dtype}_{m}x{n}x{k}_mean_err_over_rms", mean);
                Assert.True(max < 0.03 && mean < 1e-3, $"{dtype} M={m} run {run}: error {max} (max), {mean} (mean) of y's RMS against the norm kernel then the GEMM");
            }
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

    private static double MaxErrorOverRms(Tensor y, Tensor reference) => ErrorOverRms(y, reference, e => e.max());

    private static double MeanErrorOverRms(Tensor y, Tensor reference) => ErrorOverRms(y, reference, e => e.mean());

    private static double ErrorOverRms(Tensor y, Tensor reference, Func<Tensor, Tensor> reduce)
    {
        using var scope = NewDisposeScope();
        var r = reference.to(ScalarType.Float32);
        var rms = r.square().mean().sqrt().item<float>();
        return reduce((y.to(ScalarType.Float32) - r).abs()).item<float>() / Math.Max(rms, 1e-12);
    }
}
