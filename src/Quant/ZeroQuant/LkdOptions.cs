using System.Globalization;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// Layer-by-layer knowledge distillation settings. <see cref="Steps"/> = 0 is plain round-to-nearest. The other
/// defaults are this server's (docs/zeroquant.md gives their reasons next to the paper's setup).
/// </summary>
public sealed record LkdOptions
{
    public const string StepsKey = "lkd-steps", LearningRateKey = "lkd-lr", BatchKey = "lkd-batch-size", SeqLenKey = "lkd-seq-len",
        SamplesKey = "calibration-samples";

    /// <summary>Optimizer steps per transformer block.</summary>
    public int Steps { get; init; }
    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>Calibration windows per step.</summary>
    public int BatchSize { get; init; } = 4;
    /// <summary>Tokens per calibration window.</summary>
    public int SequenceLength { get; init; } = 256;
    /// <summary>Calibration windows in all (steps cycle through them).</summary>
    public int Samples { get; init; } = 32;

    public static LkdOptions Parse(IReadOnlyDictionary<string, string> v)
    {
        var o = new LkdOptions();
        if (ZeroQuantOptions.Get(v, StepsKey) is { } s)
            o = o with { Steps = ZeroQuantOptions.Int(StepsKey, s) is var n and >= 0 ? n : throw new ArgumentException($"--{StepsKey} {s}: expected 0 (round to nearest) or a positive number of steps.") };
        if (ZeroQuantOptions.Get(v, LearningRateKey) is { } lr)
            o = o with
            {
                LearningRate = double.TryParse(lr, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r > 0 && double.IsFinite(r)
                    ? r : throw new ArgumentException($"--{LearningRateKey} {lr}: expected a positive number."),
            };
        if (ZeroQuantOptions.Get(v, BatchKey) is { } b) o = o with { BatchSize = Positive(BatchKey, b) };
        if (ZeroQuantOptions.Get(v, SeqLenKey) is { } l) o = o with { SequenceLength = Positive(SeqLenKey, l) };
        if (ZeroQuantOptions.Get(v, SamplesKey) is { } n2) o = o with { Samples = Positive(SamplesKey, n2) };
        return o;
    }

    private static int Positive(string key, string value) =>
        ZeroQuantOptions.Int(key, value) is var n and > 0 ? n : throw new ArgumentException($"--{key} {value}: expected a positive integer.");
}
