using System.Text.Json.Nodes;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// Collects quantization methods into a <see cref="QuantizationRegistry"/>. Each method assembly offers
/// <c>AddXxx()</c> extensions over this builder (src/Quant: <c>AddQuantMethods()</c> adds all of its own), so a new
/// method is one more call. "none" (<see cref="UnquantizedMethod"/>) is always there.
/// </summary>
public sealed class QuantizationRegistryBuilder
{
    private readonly Dictionary<string, Func<QuantMethodOptions, IQuantMethod>> _methods = new(StringComparer.OrdinalIgnoreCase)
    {
        ["none"] = _ => UnquantizedMethod.Instance,
    };

    private readonly Dictionary<string, Func<JsonObject, IQuantMethod>> _checkpointFormats = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Adds a method that <c>--quantization <paramref name="name"/></c> selects; it quantizes while the model loads.</summary>
    public QuantizationRegistryBuilder AddMethod(string name, Func<QuantMethodOptions, IQuantMethod> create)
    {
        // Refused rather than replaced: two assemblies claiming one name is a wiring bug, not a configuration.
        if (!_methods.TryAdd(name, create))
            throw new InvalidOperationException($"quantization method \"{name}\" is registered twice.");
        return this;
    }

    /// <summary>Adds the reader of prequantized checkpoints whose quantization_config has this quant_method.</summary>
    public QuantizationRegistryBuilder AddCheckpointFormat(string quantMethod, Func<JsonObject, IQuantMethod> read)
    {
        if (!_checkpointFormats.TryAdd(quantMethod, read))
            throw new InvalidOperationException($"checkpoint quant_method \"{quantMethod}\" is registered twice.");
        return this;
    }

    /// <summary>A registry of what was added so far; later additions to this builder do not change it.</summary>
    public QuantizationRegistry Build() => new(
        new Dictionary<string, Func<QuantMethodOptions, IQuantMethod>>(_methods, StringComparer.OrdinalIgnoreCase),
        new Dictionary<string, Func<JsonObject, IQuantMethod>>(_checkpointFormats, StringComparer.OrdinalIgnoreCase));
}
