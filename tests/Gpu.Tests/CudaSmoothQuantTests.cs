using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Evaluation;
using InferenceServer.Engine.Models;
using InferenceServer.Quant.SmoothQuant;
using InferenceServer.Quant.Tests;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// The SmoothQuant perplexity targets on CUDA through the native INT8 path (fused RMSNorm/SiLU quantizers, skinny and
/// tiled INT8 GEMMs), fp32 serving dtype as the reference protocol; bf16 numbers are recorded beside them.
/// Calibration runs on the CPU as in the CPU tests, so both devices smooth with the same statistics.
/// </summary>
public sealed class CudaSmoothQuantTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    private static readonly W8A8Options Dynamic = new() { CalibrationSamples = QuantTestModels.CalibrationSamples };

    [Theory]
    [InlineData(true, false, 59.08 * 0.995, 59.08 * 1.005)]   // outliers, w8a8: the reference's naive loss
    [InlineData(true, true, 0, 54.83)]                        // outliers, smoothquant α = 0.5: within 1% of fp32
    [InlineData(false, false, 54.32 - 0.27, 54.32 + 0.27)]
    [InlineData(false, true, 54.26 - 0.27, 54.26 + 0.27)]
    public void PerplexityMatchesTheReference(bool outliers, bool smooth, double low, double high)
    {
        var device = cuda.Require();
        var ppl = Measure(device, ScalarType.Float32, outliers, new W8A8Method(smooth, smooth ? Dynamic with { Alpha = 0.5 } : Dynamic));
        Assert.InRange(ppl, low, high);
        var bf16 = Measure(device, ScalarType.BFloat16, outliers, new W8A8Method(smooth, smooth ? Dynamic with { Alpha = 0.5 } : Dynamic));
        Assert.InRange(bf16, low * 0.99, high * 1.01);
    }

    [Fact]
    public void StaticScalesRunAndSmoothingHelps()
    {
        var device = cuda.Require();
        var w8a8 = Measure(device, ScalarType.Float32, true, new W8A8Method(false, Dynamic with { ActScales = ActScaleMode.Static }));
        var sq = Measure(device, ScalarType.Float32, true, new W8A8Method(true, Dynamic with { ActScales = ActScaleMode.Static, Alpha = 0.5 }));
        Assert.True(sq < w8a8, $"static: smoothquant {sq:F2} should beat w8a8 {w8a8:F2}");
    }

    private static double Measure(Device device, ScalarType dtype, bool outliers, W8A8Method method)
    {
        using var model = ModelFactory.Load(QuantTestModels.Config, QuantTestModels.Quantized(outliers, method) with { Device = device, Dtype = dtype });
        Assert.NotNull(model.Kernels); // the native INT8 path, not the float fallback
        var ppl = Perplexity.Evaluate(model, QuantTestModels.ReferenceStream.Value, windowsPerBatch: 8).Perplexity;
        GpuReport.Record($"perplexity_cuda_{dtype}_{(outliers ? "outliers" : "tiny_llama")}_{method.Name}_{method.Options.ActScales}", ppl);
        return ppl;
    }
}
