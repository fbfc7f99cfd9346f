using System.Globalization;
using InferenceServer.Engine.Models.Quantization;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// ZeroQuant settings, read from <see cref="QuantMethodOptions.Values"/> (the CLI's flag names without dashes).
/// Defaults: W4A16, groups of 128, asymmetric, round to nearest (no LKD).
/// </summary>
public sealed record ZeroQuantOptions
{
    public const string WeightBitsKey = "weight-bits", GroupSizeKey = "group-size", SymmetricKey = "weight-symmetric",
        ActBitsKey = "act-bits", MixedKey = "mixed-precision", OverrideKey = "quant-override", OverridesFileKey = "quant-overrides-file";

    public int WeightBits { get; init; } = 4;
    public int GroupSize { get; init; } = 128;
    public bool Symmetric { get; init; }
    /// <summary>8: INT8 activations per token; 16: unquantized. Null: 16, or 8 under <see cref="MixedPrecision"/>.</summary>
    public int? ActivationBits { get; init; }
    /// <summary>ZeroQuant's W4/8-A8: INT8 weights in attention (q, k, v, o), <see cref="WeightBits"/> (4) in the MLP, INT8 activations.</summary>
    public bool MixedPrecision { get; init; }
    public LayerOverrides Overrides { get; init; } = new();
    public LkdOptions Lkd { get; init; } = new();

    /// <summary>The scheme of a linear layer before overrides, from its fused name (attention or MLP).</summary>
    public LayerScheme BaseScheme(string layerName)
    {
        bool attention = layerName.Contains(".self_attn.", StringComparison.Ordinal);
        int bits = MixedPrecision && attention ? 8 : WeightBits;
        return new LayerScheme(bits, GroupSize, Symmetric, ActivationBits ?? (MixedPrecision ? 8 : 16));
    }

    /// <summary>The scheme of a layer with its checkpoint parts, overrides applied; null keeps it in full precision.</summary>
    public LayerScheme? SchemeFor(LinearSpec spec) =>
        Overrides.Apply(BaseScheme(spec.Name), [spec.Name, .. spec.Parts.Select(p => p.Name)]);

    public static ZeroQuantOptions Parse(QuantMethodOptions options)
    {
        var v = options.Values;
        var o = new ZeroQuantOptions();
        if (Get(v, WeightBitsKey) is { } b)
            o = o with { WeightBits = Int(WeightBitsKey, b) is var n and (4 or 8) ? n : throw new ArgumentException($"--{WeightBitsKey} {b}: zeroquant takes 4 or 8.") };
        if (Get(v, GroupSizeKey) is { } g)
            o = o with { GroupSize = Int(GroupSizeKey, g) is var n and >= 8 && n % 8 == 0 ? n : throw new ArgumentException($"--{GroupSizeKey} {g}: zeroquant takes a positive multiple of 8 (32 to 256 is the usual range).") };
        if (Get(v, SymmetricKey) is { } s) o = o with { Symmetric = Bool(SymmetricKey, s) };
        if (Get(v, ActBitsKey) is { } a)
            o = o with { ActivationBits = Int(ActBitsKey, a) is var n and (8 or 16) ? n : throw new ArgumentException($"--{ActBitsKey} {a}: expected 8 (INT8 per token) or 16 (unquantized).") };
        if (Get(v, MixedKey) is { } m) o = o with { MixedPrecision = Bool(MixedKey, m) };
        var overrides = new LayerOverrides();
        if (Get(v, OverridesFileKey) is { } file) overrides.AddFile(file);
        if (Get(v, OverrideKey) is { } list)
            foreach (var entry in list.Split('\n', StringSplitOptions.RemoveEmptyEntries)) overrides.AddCommandLine(entry);
        return o with { Overrides = overrides, Lkd = LkdOptions.Parse(v) };
    }

    internal static string? Get(IReadOnlyDictionary<string, string> v, string key) => v.TryGetValue(key, out var s) && s is not (null or "") ? s : null;

    internal static int Int(string key, string value) =>
        int.TryParse(value, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"--{key} {value}: expected an integer.");

    private static bool Bool(string key, string value) =>
        bool.TryParse(value, out var b) ? b : throw new ArgumentException($"--{key} {value}: expected true or false.");
}
