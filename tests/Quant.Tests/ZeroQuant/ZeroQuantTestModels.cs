using InferenceServer.Engine.Evaluation;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.ZeroQuant;

namespace InferenceServer.Quant.Tests.ZeroQuant;

/// <summary>ZeroQuant methods from CLI-style option values, and the shared perplexity protocol over them.</summary>
internal static class ZeroQuantTestModels
{
    public static ZeroQuantMethod Method(params (string Key, string Value)[] values) =>
        new(ZeroQuantOptions.Parse(new QuantMethodOptions { Values = values.ToDictionary(v => v.Key, v => v.Value) }));

    /// <summary>Perplexity of tiny-llama (or tiny-llama-outliers) loaded with <paramref name="options"/>.</summary>
    public static (double Perplexity, long LinearBytes) Measure(ModelOptions options, int windows = Perplexity.DefaultMaxWindows)
    {
        using var model = ModelFactory.Load(QuantTestModels.Config, options);
        var result = Perplexity.Evaluate(model, QuantTestModels.ReferenceStream.Value, maxWindows: windows, windowsPerBatch: 8);
        return (result.Perplexity, model.LinearWeightBytes);
    }

    public static ModelOptions Options(bool outliers, ZeroQuantMethod method) => QuantTestModels.Options(outliers) with { Quantization = method };
}
