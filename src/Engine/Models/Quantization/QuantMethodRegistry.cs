namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// The <c>--quantization</c> names and the methods behind them. Methods from other assemblies (src/Quant)
/// register themselves at startup, so layers and the CLI never switch on method names.
/// </summary>
public static class QuantMethodRegistry
{
    private static readonly Dictionary<string, Func<QuantMethodOptions, IQuantMethod>> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["none"] = _ => UnquantizedMethod.Instance,
    };

    public static IEnumerable<string> Names => Factories.Keys.Order();

    public static void Register(string name, Func<QuantMethodOptions, IQuantMethod> factory) => Factories[name] = factory;

    private static readonly Dictionary<string, Func<System.Text.Json.Nodes.JsonObject, IQuantMethod>> CheckpointFormats = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Registers the reader of prequantized checkpoints whose quantization_config has this quant_method.</summary>
    public static void RegisterCheckpointFormat(string quantMethod, Func<System.Text.Json.Nodes.JsonObject, IQuantMethod> factory) =>
        CheckpointFormats[quantMethod] = factory;

    /// <summary>
    /// The method a prequantized checkpoint (config.json with a quantization_config) needs, or null for a
    /// full-precision one. Errors name the config file; they are <see cref="Loading.ModelLoadException"/>s.
    /// </summary>
    public static IQuantMethod? ForCheckpoint(Loading.ModelConfig config, string configPath)
    {
        if (config.QuantizationConfig is not { } qc) return null;
        var method = qc["quant_method"]?.GetValue<string>()
            ?? throw new Loading.ModelLoadException($"{configPath}: quantization_config has no quant_method.");
        if (!CheckpointFormats.TryGetValue(method, out var factory))
            throw new Loading.ModelLoadException($"{configPath}: quantization_config.quant_method \"{method}\" is not supported; this server reads: {string.Join(", ", CheckpointFormats.Keys.Order())}.");
        try
        {
            return factory(qc);
        }
        catch (Loading.ModelLoadException e)
        {
            throw new Loading.ModelLoadException($"{configPath}: {e.Message}", e);
        }
    }

    public static IQuantMethod Resolve(string? name, QuantMethodOptions? options = null)
    {
        name ??= "none";
        return Factories.TryGetValue(name, out var f) ? f(options ?? new QuantMethodOptions())
            : throw new ArgumentException($"--quantization {name} is not supported; choose one of: {string.Join(", ", Names)}.");
    }
}

/// <summary>Method-specific settings from the command line (each method reads the ones it knows).</summary>
public sealed record QuantMethodOptions
{
    public IReadOnlyDictionary<string, string> Values { get; init; } = new Dictionary<string, string>();
}
