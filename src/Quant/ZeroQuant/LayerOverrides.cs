using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// Per-layer overrides, in order (a later match wins). A pattern is a layer name (a fused name such as
/// <c>model.layers.0.self_attn.qkv_proj</c> or a checkpoint part such as <c>...q_proj</c>), a name suffix after a dot
/// (<c>down_proj</c>), or a regular expression after "re:" (compressed-tensors' convention).
/// </summary>
/// <remarks>
/// Command line: <c>--quant-override PATTERN=SPEC</c>, SPEC being "none" or comma-separated <c>bits=4|8</c>,
/// <c>group=G</c>, <c>sym</c> / <c>asym</c>, <c>act=8|16</c>. JSON file: an object mapping each pattern to "none" or to
/// <c>{"weight_bits": 8, "group_size": 64, "symmetric": true, "act_bits": 8}</c> (every field optional).
/// </remarks>
public sealed class LayerOverrides
{
    private readonly List<(string Pattern, LayerOverride Override)> _entries = [];

    public IReadOnlyList<(string Pattern, LayerOverride Override)> Entries => _entries;

    public static bool Matches(string pattern, string name) => pattern.StartsWith("re:", StringComparison.Ordinal)
        ? Regex.IsMatch(name, pattern[3..])
        : name == pattern || name.EndsWith("." + pattern, StringComparison.Ordinal);

    /// <summary>The scheme of a layer whose fused name or checkpoint parts are <paramref name="names"/>; null keeps it in full precision.</summary>
    public LayerScheme? Apply(LayerScheme scheme, IEnumerable<string> names)
    {
        LayerScheme? result = scheme;
        var all = names.ToArray();
        foreach (var (pattern, o) in _entries)
            if (all.Any(n => Matches(pattern, n)))
                result = o.Skip ? null : o.Apply(result ?? scheme);
        return result;
    }

    /// <summary>Adds one <c>PATTERN=SPEC</c> entry from the command line.</summary>
    public void AddCommandLine(string entry)
    {
        int eq = SpecStart(entry);
        if (eq <= 0) throw new ArgumentException($"--quant-override {entry}: expected PATTERN=SPEC, e.g. down_proj=bits=8 or re:.*self_attn.*=none.");
        var pattern = entry[..eq];
        var spec = entry[(eq + 1)..];
        if (spec.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            _entries.Add((CheckPattern(pattern, "--quant-override"), new LayerOverride(Skip: true)));
            return;
        }
        var o = new LayerOverride();
        foreach (var field in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = field.Split('=', 2);
            o = (kv[0].ToLowerInvariant(), kv.Length == 2 ? kv[1] : null) switch
            {
                ("bits", { } v) => o with { WeightBits = Int(v, field, "--quant-override") },
                ("group", { } v) => o with { GroupSize = Int(v, field, "--quant-override") },
                ("act", { } v) => o with { ActivationBits = Int(v, field, "--quant-override") },
                ("sym", null) => o with { Symmetric = true },
                ("asym", null) => o with { Symmetric = false },
                _ => throw new ArgumentException($"--quant-override {entry}: unknown field \"{field}\"; use bits=4|8, group=G, sym, asym, act=8|16 or none."),
            };
        }
        _entries.Add((CheckPattern(pattern, "--quant-override"), Validate(o, $"--quant-override {entry}")));
    }

    /// <summary>Adds every entry of a JSON overrides file, in file order.</summary>
    public void AddFile(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"--quant-overrides-file {path}: no such file.");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ArgumentException($"--quant-overrides-file {path}: expected a JSON object mapping layer patterns to overrides.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"--quant-overrides-file {path}: not valid JSON ({e.Message}).");
        }
        foreach (var (pattern, node) in root)
        {
            string where = $"--quant-overrides-file {path}: \"{pattern}\"";
            CheckPattern(pattern, where);
            if (node is JsonValue v && v.TryGetValue<string>(out var s) && s.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                _entries.Add((pattern, new LayerOverride(Skip: true)));
                continue;
            }
            if (node is not JsonObject o)
                throw new ArgumentException($"{where}: expected \"none\" or an object with weight_bits, group_size, symmetric, act_bits.");
            var unknown = o.Select(p => p.Key).Except(["weight_bits", "group_size", "symmetric", "act_bits"]).ToArray();
            if (unknown.Length > 0) throw new ArgumentException($"{where}: unknown field(s) {string.Join(", ", unknown)}.");
            try
            {
                _entries.Add((pattern, Validate(new LayerOverride(o["weight_bits"]?.GetValue<int>(), o["group_size"]?.GetValue<int>(),
                    o["symmetric"]?.GetValue<bool>(), o["act_bits"]?.GetValue<int>()), where)));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new ArgumentException($"{where}: {e.Message}");
            }
        }
    }

    private static readonly string[] SpecHeads = ["none", "bits=", "group=", "act=", "sym", "asym"];

    /// <summary>The first '=' followed by a spec field: "re:a=b=bits=8" splits after "re:a=b" (a regex may hold '=').</summary>
    private static int SpecStart(string entry)
    {
        for (int i = entry.IndexOf('='); i >= 0; i = entry.IndexOf('=', i + 1))
            if (SpecHeads.Any(h => entry.AsSpan(i + 1).StartsWith(h, StringComparison.OrdinalIgnoreCase))) return i;
        return -1;
    }

    private static string CheckPattern(string pattern, string where)
    {
        if (pattern.Length == 0) throw new ArgumentException($"{where}: empty layer pattern.");
        if (pattern.StartsWith("re:", StringComparison.Ordinal))
        {
            try { _ = new Regex(pattern[3..]); }
            catch (ArgumentException e) { throw new ArgumentException($"{where}: {pattern} is not a valid regular expression ({e.Message})."); }
        }
        return pattern;
    }

    private static LayerOverride Validate(LayerOverride o, string where)
    {
        if (o.WeightBits is { } b and not (4 or 8)) throw new ArgumentException($"{where}: weight bits must be 4 or 8, not {b}.");
        if (o.GroupSize is { } g && (g < 8 || g % 8 != 0)) throw new ArgumentException($"{where}: group size must be a positive multiple of 8, not {g}.");
        if (o.ActivationBits is { } a and not (8 or 16)) throw new ArgumentException($"{where}: activation bits must be 8 or 16, not {a}.");
        return o;
    }

    private static int Int(string v, string field, string where) => int.TryParse(v, CultureInfo.InvariantCulture, out var n)
        ? n : throw new ArgumentException($"{where}: {field}: expected an integer.");
}
