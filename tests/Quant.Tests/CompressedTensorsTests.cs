using InferenceServer.Engine.Models.Architectures;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Evaluation;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.Quant.SmoothQuant;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests;

/// <summary>
/// Prequantized checkpoints in the compressed-tensors format: a model quantized here and written out loads back to
/// the very same model (same INT8 weights, scales and smoothed norms: equal perplexity), and quantization_configs
/// this server cannot serve exactly are refused with the field named.
/// </summary>
public sealed class CompressedTensorsTests(ITestOutputHelper output)
{
    private static readonly W8A8Options Dynamic = new() { CalibrationSamples = QuantTestModels.CalibrationSamples };

    [Theory]
    [InlineData(false, false, ActScaleMode.Dynamic)]    // w8a8 on tiny-llama
    [InlineData(true, true, ActScaleMode.Static)]       // smoothquant (smoothed norms, calibrated input scales) on the outlier variant
    public void WrittenCheckpointLoadsBackToTheSameModel(bool smooth, bool outliers, ActScaleMode acts)
    {
        var options = QuantTestModels.Quantized(outliers, new W8A8Method(smooth, Dynamic with { ActScales = acts, Alpha = 0.5 }));
        var capture = new CapturingQuantMethod(options.Quantization);
        var dir = Directory.CreateTempSubdirectory("ct-").FullName;
        try
        {
            double expected;
            using (var model = ModelFactory.Load(QuantTestModels.Config, options with { Quantization = capture }))
            {
                expected = Perplexity.Evaluate(model, QuantTestModels.ReferenceStream.Value, maxWindows: 4, windowsPerBatch: 4).Perplexity;
                using var checkpoint = new Checkpoint(RepoPaths.TinyLlama);
                IWeightSource source = new CheckpointWeightSource(checkpoint);
                if (options.WeightTransform is { } transform) source = transform(source);
                CompressedTensorsWriter.Write(dir, checkpoint, source, ScalarType.Float32, capture.Layers);
            }
            var config = ModelConfig.Load(dir);
            var qc = config.QuantizationConfig!;
            Assert.Equal("compressed-tensors", qc["quant_method"]!.GetValue<string>());
            var input = qc["config_groups"]!["group_0"]!["input_activations"]!;
            Assert.Equal(acts == ActScaleMode.Static ? "tensor" : "token", input["strategy"]!.GetValue<string>());
            using (var written = new Checkpoint(dir))
            {
                var qkvPart = "model.layers.0.self_attn.k_proj";   // fused layers are written as their checkpoint parts
                Assert.Equal(ScalarType.Int8, written.Entry(qkvPart + ".weight").Dtype);
                Assert.Equal([config.NumKvHeads * config.HeadDim, 1L], written.Entry(qkvPart + ".weight_scale").Shape);
                Assert.Equal(acts == ActScaleMode.Static, written.Contains(qkvPart + ".input_scale"));
            }
            var method = QuantMethods.CreateRegistry().ForCheckpoint(config, Path.Combine(dir, "config.json"));
            Assert.IsType<CompressedTensorsW8A8Method>(method);
            using var reloaded = ModelFactory.Load(config, new ModelOptions { ModelDir = dir, Device = CPU, Dtype = ScalarType.Float32, Quantization = method! });
            var actual = Perplexity.Evaluate(reloaded, QuantTestModels.ReferenceStream.Value, maxWindows: 4, windowsPerBatch: 4).Perplexity;
            output.WriteLine($"{options.Quantization.Name} {acts}: quantized in memory {expected:F6}, written and reloaded {actual:F6}");
            Assert.Equal(expected, actual, 9);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("weights", "num_bits", 4, "num_bits")]
    [InlineData("weights", "strategy", "group", "strategy")]
    [InlineData("input_activations", "symmetric", false, "symmetric")]
    public void UnsupportedSchemesAreRefusedByField(string args, string field, object value, string named)
    {
        var qc = new CompressedTensorsScheme(false, ["lm_head"]).ToJson();
        qc["config_groups"]!["group_0"]![args]![field] = JsonValue.Create(value);
        var e = Assert.Throws<ModelLoadException>(() => CompressedTensorsScheme.Parse(qc));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void WeightOnlyAndPackedFormatsAndUnknownMethodsAreRefused()
    {
        var weightOnly = new CompressedTensorsScheme(false, []).ToJson();
        weightOnly["config_groups"]!["group_0"]!.AsObject().Remove("input_activations");
        Assert.Contains("input_activations", Assert.Throws<ModelLoadException>(() => CompressedTensorsScheme.Parse(weightOnly)).Message);
        var packed = new CompressedTensorsScheme(false, []).ToJson();
        packed["format"] = "pack-quantized";
        Assert.Contains("pack-quantized", Assert.Throws<ModelLoadException>(() => CompressedTensorsScheme.Parse(packed)).Message);
        var gptq = QuantTestModels.Config with { QuantizationConfig = new JsonObject { ["quant_method"] = "gptq" } };
        var e = Assert.Throws<ModelLoadException>(() => QuantMethods.CreateRegistry().ForCheckpoint(gptq, "/models/x/config.json"));
        Assert.Contains("/models/x/config.json", e.Message);
        Assert.Contains("gptq", e.Message);
        Assert.Contains("this server reads: compressed-tensors, lutgemm.", e.Message);
    }
}
