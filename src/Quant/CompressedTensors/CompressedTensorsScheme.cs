using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceServer.Engine.Loading;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>
/// The INT8 scheme of a compressed-tensors checkpoint (the format llm-compressor writes and vLLM reads, "quant_method":
/// "compressed-tensors", "format": "int-quantized"): symmetric INT8 weights per output channel, stored as
/// <c>{layer}.weight</c> int8 [out, in] with <c>{layer}.weight_scale</c> [out, 1]; INT8 input activations either per
/// token and dynamic, or per tensor with a calibrated <c>{layer}.input_scale</c> [1]. Layers listed in "ignore"
/// (names, or "re:" patterns) keep full-precision weights.
/// </summary>
public sealed record CompressedTensorsScheme(bool StaticActivations, IReadOnlyList<string> Ignore)
{
    public const string QuantMethod = "compressed-tensors";
    public const string Format = "int-quantized";

    /// <summary>Reads and checks a quantization_config; anything this server cannot serve exactly is refused by name.</summary>
    public static CompressedTensorsScheme Parse(JsonObject qc)
    {
        var format = qc["format"]?.GetValue<string>();
        if (format != Format)
            throw new ModelLoadException($"quantization_config.format \"{format}\" is not supported (\"{Format}\": INT8 weights stored as int8, or \"pack-quantized\": group-wise 4/8-bit weights).");
        if (qc["config_groups"] is not JsonObject groups || groups.Count == 0)
            throw new ModelLoadException("quantization_config has no config_groups.");
        bool? isStatic = null;
        foreach (var (name, node) in groups)
        {
            if (node is not JsonObject g) throw new ModelLoadException($"config_groups.{name} is not an object.");
            var targets = (g["targets"] as JsonArray)?.Select(t => t?.GetValue<string>()).ToArray() ?? [];
            if (!targets.SequenceEqual(["Linear"]))
                throw new ModelLoadException($"config_groups.{name}.targets must be [\"Linear\"] (got [{string.Join(", ", targets)}]).");
            Expect(g, name, "weights", 8, "channel", dynamic: false);
            if (g["output_activations"] is JsonObject)
                throw new ModelLoadException($"config_groups.{name}.output_activations are not supported.");
            if (g["input_activations"] is not JsonObject act)
                throw new ModelLoadException($"config_groups.{name} has no input_activations: weight-only INT8 is not a W8A8 scheme this server serves.");
            bool dynamic = act["dynamic"]?.GetValue<bool>() ?? false;
            Expect(g, name, "input_activations", 8, dynamic ? "token" : "tensor", dynamic);
            if (isStatic is bool s && s == dynamic)
                throw new ModelLoadException("config_groups mix dynamic and static activation scales.");
            isStatic = !dynamic;
        }
        var ignore = (qc["ignore"] as JsonArray)?.Select(x => x!.GetValue<string>()).ToArray() ?? [];
        return new CompressedTensorsScheme(isStatic!.Value, ignore);
    }

    private static void Expect(JsonObject group, string groupName, string key, int bits, string strategy, bool dynamic)
    {
        var a = (JsonObject)group[key]!;
        string where = $"config_groups.{groupName}.{key}";
        if (a["num_bits"]?.GetValue<int>() != bits || a["type"]?.GetValue<string>() != "int")
            throw new ModelLoadException($"{where}: only {bits}-bit int is supported (got num_bits {a["num_bits"]}, type {a["type"]}).");
        if (a["symmetric"]?.GetValue<bool>() != true)
            throw new ModelLoadException($"{where}: only symmetric quantization is supported.");
        if (a["strategy"]?.GetValue<string>() != strategy)
            throw new ModelLoadException($"{where}: strategy \"{a["strategy"]}\" is not supported here (expected \"{strategy}\").");
        if ((a["dynamic"]?.GetValue<bool>() ?? false) != dynamic)
            throw new ModelLoadException($"{where}: dynamic must be {dynamic.ToString().ToLowerInvariant()}.");
    }

    /// <summary>True when a checkpoint prefix is in "ignore" (kept in full precision).</summary>
    public bool Ignores(string name) => Ignore.Any(p => p.StartsWith("re:", StringComparison.Ordinal)
        ? Regex.IsMatch(name, p[3..])
        : p == name || name.EndsWith("." + p, StringComparison.Ordinal));

    /// <summary>The quantization_config this scheme is written as (what vLLM and llm-compressor read).</summary>
    public JsonObject ToJson()
    {
        JsonObject Args(string strategy, bool dynamic) => new()
        {
            ["num_bits"] = 8, ["type"] = "int", ["symmetric"] = true, ["strategy"] = strategy, ["dynamic"] = dynamic,
            ["group_size"] = null, ["block_structure"] = null, ["actorder"] = null, ["observer"] = dynamic ? null : "minmax",
            ["observer_kwargs"] = new JsonObject(),
        };
        return new JsonObject
        {
            ["quant_method"] = QuantMethod,
            ["format"] = Format,
            ["quantization_status"] = "compressed",
            ["config_groups"] = new JsonObject
            {
                ["group_0"] = new JsonObject
                {
                    ["targets"] = new JsonArray("Linear"),
                    ["weights"] = Args("channel", dynamic: false),
                    ["input_activations"] = Args(StaticActivations ? "tensor" : "token", dynamic: !StaticActivations),
                    ["output_activations"] = null,
                },
            },
            ["ignore"] = new JsonArray(Ignore.Select(i => (JsonNode)i).ToArray()),
            ["kv_cache_scheme"] = null,
        };
    }
}
