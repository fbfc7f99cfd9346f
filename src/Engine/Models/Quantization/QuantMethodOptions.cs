namespace InferenceServer.Engine.Models.Quantization;

/// <summary>Method-specific settings from the command line (each method reads the ones it knows).</summary>
public sealed record QuantMethodOptions
{
    public IReadOnlyDictionary<string, string> Values { get; init; } = new Dictionary<string, string>();
}
