using System.Text.Json;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Tokenization;
using InferenceServer.Quant.Calibration;
using InferenceServer.Quant.SmoothQuant;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests;

/// <summary>tiny-llama (fp32 on CPU), its outlier variant, and their calibration statistics, shared by the tests.</summary>
internal static class QuantTestModels
{
    /// <summary>Calibration samples of 512 tokens (the CLI default is 512; 16 keep the suite short and suffice here).</summary>
    public const int CalibrationSamples = 16;
    public static readonly ModelConfig Config = ModelConfig.Load(RepoPaths.TinyLlama);
    public static readonly Lazy<List<int>> ReferenceStream = new(LoadReferenceStream);
    private static readonly Lazy<ActivationStats>[] Stats = [new(() => Calibrate(false)), new(() => Calibrate(true))];

    /// <summary>sentencepiece's token ids of eval.txt (the stream PerplexityTests scores): 54.29 in fp32.</summary>
    private static List<int> LoadReferenceStream()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TinyLlama, "eval_token_ids.json")));
        return doc.RootElement.GetProperty("lines").EnumerateArray()
            .SelectMany(l => l.EnumerateArray().Select(x => x.GetInt32())).ToList();
    }

    public static ModelOptions Options(bool outliers) => new()
    {
        ModelDir = RepoPaths.TinyLlama,
        Device = CPU,
        Dtype = ScalarType.Float32,
        WeightTransform = outliers ? w => new OutlierWeightSource(w) : null,
    };

    public static ActivationStats Calibration(bool outliers) => Stats[outliers ? 1 : 0].Value;

    /// <summary>The load options of tiny-llama (or its outlier variant) under a W8A8 method, calibrated when it needs it.</summary>
    public static ModelOptions Quantized(bool outliers, W8A8Method method) => method.NeedsCalibration
        ? method.WithStats(Config, Options(outliers), Calibration(outliers))
        : Options(outliers) with { Quantization = method };

    private static ActivationStats Calibrate(bool outliers) =>
        CalibrationRunner.Run(Config, Options(outliers), CalibrationStream.Value, CalibrationSamples, 512);

    /// <summary>calibration.txt as BOS + line + EOS per line (the perplexity stream's layout), just enough lines for the samples.</summary>
    public static readonly Lazy<List<int>> CalibrationStream = new(() =>
    {
        var tok = TokenizerLoader.Load(RepoPaths.TinyLlama).Tokenizer;
        var stream = new List<int>();
        foreach (var line in File.ReadLines(Path.Combine(RepoPaths.Assets, "data", "calibration.txt")))
        {
            if (stream.Count > CalibrationSamples * 512) break;
            stream.Add(tok.BosTokenId!.Value);
            stream.AddRange(tok.Encode(line, addSpecialTokens: false));
            stream.Add(tok.EosTokenId!.Value);
        }
        return stream;
    });
}
