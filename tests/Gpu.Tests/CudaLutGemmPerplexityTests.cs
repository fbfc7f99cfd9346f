using InferenceServer.Engine.Evaluation;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Quant.LutGemm;
using InferenceServer.Quant.Tests;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// tiny-llama (and its outlier variant) with every decoder linear layer in BCQ form, scored with the shared perplexity
/// protocol on CUDA through the native LUT-GEMM kernels. Quantization runs on the host exactly as on the CPU, so the
/// packed weights are the same and only the kernels' summation order differs: float32 serving must land within 0.3% of
/// the CPU LUT-GEMM figures (tests/Quant.Tests LutGemmPerplexityTests, docs/lutgemm.md), bfloat16 serving (activations
/// rounded to bf16 between layers, the tensor-core kernel on the prompt windows) within 2%, and the
/// dequantize-then-GEMM baseline (<c>--lutgemm-kernel dequant</c>) within 1% of the LUT kernels in bfloat16.
/// </summary>
public sealed class CudaLutGemmPerplexityTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    [Theory]
    [InlineData(false, 4, BcqInit.Uniform, 56.08)]
    [InlineData(false, 4, BcqInit.Greedy, 55.44)]
    [InlineData(false, 3, BcqInit.Uniform, 63.89)]
    [InlineData(false, 3, BcqInit.Greedy, 59.50)]
    [InlineData(false, 2, BcqInit.Uniform, 161.52)]
    [InlineData(false, 2, BcqInit.Greedy, 80.80)]
    [InlineData(true, 4, BcqInit.Uniform, 59.23)]
    [InlineData(true, 3, BcqInit.Uniform, 67.83)]
    [InlineData(true, 2, BcqInit.Uniform, 171.93)]
    [InlineData(true, 4, BcqInit.Greedy, 67.85)]
    public void MatchesTheCpuLutGemm(bool outliers, int bits, BcqInit init, double cpu)
    {
        var device = cuda.Require();
        var options = new LutGemmOptions { Bits = bits, GroupSize = 128, Init = init };
        var fp32 = Measure(device, ScalarType.Float32, outliers, options);
        Assert.InRange(fp32, cpu * 0.997, cpu * 1.003);
        var bf16 = Measure(device, ScalarType.BFloat16, outliers, options);
        Assert.InRange(bf16, cpu * 0.98, cpu * 1.02);
        var baseline = Measure(device, ScalarType.BFloat16, outliers, options with { Kernel = LutGemmKernelChoice.Dequant });
        Assert.InRange(baseline, bf16 * 0.99, bf16 * 1.01);
    }

    private static double Measure(Device device, ScalarType dtype, bool outliers, LutGemmOptions options)
    {
        using var model = ModelFactory.Load(QuantTestModels.Config,
            QuantTestModels.Options(outliers) with { Quantization = new LutGemmMethod(options), Device = device, Dtype = dtype });
        Assert.NotNull(model.Kernels); // the native kernels, not the TorchSharp dequantization
        var ppl = Perplexity.Evaluate(model, QuantTestModels.ReferenceStream.Value, windowsPerBatch: 8).Perplexity;
        GpuReport.Record($"perplexity_cuda_{dtype}_{(outliers ? "outliers" : "tiny_llama")}_lutgemm_w{options.Bits}_g{options.GroupSize}_{options.Init}_{options.Kernel}".ToLowerInvariant(), ppl);
        GpuReport.Record($"linear_weight_bytes_lutgemm_w{options.Bits}_g{options.GroupSize}", model.LinearWeightBytes);
        return ppl;
    }
}
