using System.Globalization;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Calibration;

namespace InferenceServer.Quant.SmoothQuant;

/// <summary>Where activation scales come from: each token's own abs-max (default), or one calibrated scale per layer (the paper's O3).</summary>
public enum ActScaleMode { Dynamic, Static }

/// <summary>SmoothQuant / W8A8 settings, read from <see cref="QuantMethodOptions.Values"/> (the CLI's flag names without dashes).</summary>
public sealed record W8A8Options
{
    public const string AlphaKey = "smoothquant-alpha";
    public const string ActScalesKey = "act-scales";
    public const string SamplesKey = "calibration-samples";
    public const string SequenceLengthKey = "calibration-seq-len";

    /// <summary>Migration strength; null takes <see cref="DefaultAlpha"/> for the architecture.</summary>
    public double? Alpha { get; init; }
    public ActScaleMode ActScales { get; init; } = ActScaleMode.Dynamic;
    public int CalibrationSamples { get; init; } = CalibrationRunner.DefaultSamples;
    public int CalibrationSequenceLength { get; init; } = CalibrationRunner.DefaultSequenceLength;

    /// <summary>
    /// α per architecture. OPT: 0.5, the SmoothQuant paper's choice for OPT/BLOOM. Llama, Mistral, Qwen2: 0.85,
    /// from the authors' later Llama-2 results (0.8–0.85 work; larger α moves more difficulty into the weights,
    /// which Llama's strong activation outliers need). tiny-llama is measured at 0.5 in docs/benchmarks.
    /// </summary>
    public static double DefaultAlpha(ModelConfig config) => config.IsOpt ? 0.5 : 0.85;

    public static W8A8Options Parse(QuantMethodOptions options)
    {
        var v = options.Values;
        var o = new W8A8Options();
        if (v.TryGetValue(AlphaKey, out var a) && a is not (null or ""))
        {
            if (!double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var alpha) || alpha is < 0 or > 1)
                throw new ArgumentException($"--{AlphaKey} {a}: expected a number in [0, 1].");
            o = o with { Alpha = alpha };
        }
        if (v.TryGetValue(ActScalesKey, out var m) && m is not (null or ""))
            o = o with
            {
                ActScales = m.ToLowerInvariant() switch
                {
                    "dynamic" => ActScaleMode.Dynamic,
                    "static" => ActScaleMode.Static,
                    _ => throw new ArgumentException($"--{ActScalesKey} {m}: expected dynamic or static."),
                },
            };
        if (v.TryGetValue(SamplesKey, out var s) && s is not (null or ""))
            o = o with { CalibrationSamples = Positive(SamplesKey, s) };
        if (v.TryGetValue(SequenceLengthKey, out var l) && l is not (null or ""))
            o = o with { CalibrationSequenceLength = Positive(SequenceLengthKey, l) };
        return o;
    }

    private static int Positive(string key, string value) =>
        int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"--{key} {value}: expected a positive integer.");
}
