using System.Text.Json.Nodes;
using InferenceServer.Engine.Loading;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// The quantization methods this process knows, answering both ways a model asks for one: a <c>--quantization</c>
/// name (quantize full-precision weights while loading) and a prequantized checkpoint's
/// <c>quantization_config.quant_method</c>. Immutable; made by <see cref="QuantizationRegistryBuilder"/> and passed
/// to whoever loads models, so no lookup can run before the methods of another assembly are in it.
/// </summary>
public sealed class QuantizationRegistry
{
    private readonly IReadOnlyDictionary<string, Func<QuantMethodOptions, IQuantMethod>> _methods;
    private readonly IReadOnlyDictionary<string, Func<JsonObject, IQuantMethod>> _checkpointFormats;

    internal QuantizationRegistry(IReadOnlyDictionary<string, Func<QuantMethodOptions, IQuantMethod>> methods,
        IReadOnlyDictionary<string, Func<JsonObject, IQuantMethod>> checkpointFormats)
    {
        _methods = methods;
        _checkpointFormats = checkpointFormats;
    }

    /// <summary>The <c>--quantization</c> names, "none" included, sorted.</summary>
    public IReadOnlyList<string> Names => [.. _methods.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The quant_method values of the prequantized checkpoints this registry reads, sorted.</summary>
    public IReadOnlyList<string> CheckpointFormats => [.. _checkpointFormats.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The method named by <c>--quantization</c> (null means "none"); an unknown name is an <see cref="ArgumentException"/>.</summary>
    public IQuantMethod Resolve(string? name, QuantMethodOptions? options = null)
    {
        name ??= "none";
        return _methods.TryGetValue(name, out var create) ? create(options ?? new QuantMethodOptions())
            : throw new ArgumentException($"--quantization {name} is not supported; choose one of: {string.Join(", ", Names)}.");
    }

    /// <summary>
    /// The method a prequantized checkpoint (config.json with a quantization_config) needs, or null for a
    /// full-precision one. Errors name the config file; they are <see cref="ModelLoadException"/>s.
    /// </summary>
    public IQuantMethod? ForCheckpoint(ModelConfig config, string configPath)
    {
        if (config.QuantizationConfig is not { } qc) return null;
        var method = qc["quant_method"]?.GetValue<string>()
            ?? throw new ModelLoadException($"{configPath}: quantization_config has no quant_method.");
        if (!_checkpointFormats.TryGetValue(method, out var read))
            throw new ModelLoadException($"{configPath}: quantization_config.quant_method \"{method}\" is not supported; this server reads: {string.Join(", ", CheckpointFormats)}.");
        try
        {
            return read(qc);
        }
        catch (ModelLoadException e)
        {
            throw new ModelLoadException($"{configPath}: {e.Message}", e);
        }
    }
}
