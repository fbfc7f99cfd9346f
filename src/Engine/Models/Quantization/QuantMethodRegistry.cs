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
