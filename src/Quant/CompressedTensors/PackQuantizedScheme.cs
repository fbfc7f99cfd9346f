using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceServer.Engine.Loading;
using InferenceServer.Quant.ZeroQuant;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>
/// A compressed-tensors "pack-quantized" checkpoint (llm-compressor's W4A16 / W8A16 and their A8 variants, what vLLM
/// reads): per layer <c>{layer}.weight_packed</c> int32 [out, in·b/32] (pack_to_int32 along the input dimension),
/// <c>weight_scale</c> [out, in/G], <c>weight_shape</c> int32 [2], and for asymmetric groups <c>weight_zero_point</c>
/// int32 [⌈out·b/32⌉, in/G] (packed along the output dimension). Each config group names its layers in "targets"
/// ("Linear", names, or "re:" patterns); every field this server cannot serve exactly is refused by name.
/// </summary>
public sealed record PackQuantizedScheme(IReadOnlyList<(IReadOnlyList<string> Targets, LayerScheme Scheme)> Groups, IReadOnlyList<string> Ignore)
{
    public const string Format = "pack-quantized";

    public static PackQuantizedScheme Parse(JsonObject qc)
    {
        foreach (var key in new[] { "kv_cache_scheme", "sparsity_config", "transform_config" })
            if (qc[key] is JsonObject)
                throw new ModelLoadException($"quantization_config.{key} is not supported.");
        if (qc["config_groups"] is not JsonObject groups || groups.Count == 0)
            throw new ModelLoadException("quantization_config has no config_groups.");
        var result = new List<(IReadOnlyList<string>, LayerScheme)>();
        foreach (var (name, node) in groups)
        {
            string where = $"config_groups.{name}";
            if (node is not JsonObject g) throw new ModelLoadException($"{where} is not an object.");
            if (g["format"]?.GetValue<string>() is { } f && f != Format)
                throw new ModelLoadException($"{where}.format \"{f}\" cannot be mixed with \"{Format}\" here.");
            var targets = (g["targets"] as JsonArray)?.Select(t => t!.GetValue<string>()).ToArray() ?? [];
            if (targets.Length == 0) throw new ModelLoadException($"{where}.targets is empty.");
            if (g["output_activations"] is JsonObject) throw new ModelLoadException($"{where}.output_activations are not supported.");
            if (g["weights"] is not JsonObject w) throw new ModelLoadException($"{where} has no weights.");
            int bits = Int(w, $"{where}.weights", "num_bits");
            if (bits is not (4 or 8)) throw new ModelLoadException($"{where}.weights.num_bits {bits} is not supported (4 or 8).");
            if (w["type"]?.GetValue<string>() != "int") throw new ModelLoadException($"{where}.weights.type \"{w["type"]}\" is not supported (only \"int\").");
            if (w["strategy"]?.GetValue<string>() != "group") throw new ModelLoadException($"{where}.weights.strategy \"{w["strategy"]}\" is not supported (only \"group\").");
            if (w["actorder"] is JsonNode order)
                throw new ModelLoadException($"{where}.weights.actorder {order.ToJsonString()} is not supported (only null: no activation reordering).");
            if (w["dynamic"]?.GetValue<bool>() == true) throw new ModelLoadException($"{where}.weights.dynamic must be false.");
            if (w["block_structure"] is JsonArray) throw new ModelLoadException($"{where}.weights.block_structure is not supported.");
            int groupSize = Int(w, $"{where}.weights", "group_size");
            bool symmetric = w["symmetric"]?.GetValue<bool>() ?? true;
            int actBits = 16;
            if (g["input_activations"] is JsonObject act)
            {
                string at = $"{where}.input_activations";
                if (Int(act, at, "num_bits") != 8 || act["type"]?.GetValue<string>() != "int" || act["symmetric"]?.GetValue<bool>() != true
                    || act["strategy"]?.GetValue<string>() != "token" || act["dynamic"]?.GetValue<bool>() != true)
                    throw new ModelLoadException($"{at}: only dynamic symmetric 8-bit int per token is supported (got {act.ToJsonString()}).");
                actBits = 8;
            }
            try
            {
                Kernels.GroupwiseWeight.Check(bits, groupSize, groupSize, null);
            }
            catch (ArgumentException e)
            {
                throw new ModelLoadException($"{where}.weights: {e.Message}");
            }
            result.Add((targets, new LayerScheme(bits, groupSize, symmetric, actBits)));
        }
        var ignore = (qc["ignore"] as JsonArray)?.Select(x => x!.GetValue<string>()).ToArray() ?? [];
        return new PackQuantizedScheme(result, ignore);
    }

    private static int Int(JsonObject o, string where, string key) => o[key] is JsonValue v && v.TryGetValue<int>(out var n)
        ? n : throw new ModelLoadException($"{where}.{key} is missing or not an integer.");

    /// <summary>True when a target ("Linear", a name or suffix, or "re:" pattern) covers a checkpoint prefix.</summary>
    public static bool Targets(string target, string name) => target == "Linear" || (target.StartsWith("re:", StringComparison.Ordinal)
        ? Regex.IsMatch(name, target[3..])
        : name == target || name.EndsWith("." + target, StringComparison.Ordinal));

    public bool Ignores(string name) => Ignore.Any(p => p != "Linear" && Targets(p, name));

    /// <summary>The scheme of a checkpoint prefix: the first group naming it explicitly, else one targeting "Linear"; null if none.</summary>
    public LayerScheme? SchemeOf(string name) =>
        Groups.FirstOrDefault(g => g.Targets.Any(t => t != "Linear" && Targets(t, name))).Scheme
        ?? Groups.FirstOrDefault(g => g.Targets.Contains("Linear")).Scheme;

    /// <summary>The quantization_config this scheme is written as.</summary>
    public JsonObject ToJson()
    {
        var groups = new JsonObject();
        for (int i = 0; i < Groups.Count; i++)
        {
            var (targets, s) = Groups[i];
            groups[$"group_{i}"] = new JsonObject
            {
                ["targets"] = new JsonArray(targets.Select(t => (JsonNode)t).ToArray()),
                ["weights"] = new JsonObject
                {
                    ["num_bits"] = s.WeightBits, ["type"] = "int", ["symmetric"] = s.Symmetric, ["strategy"] = "group", ["group_size"] = s.GroupSize,
                    ["dynamic"] = false, ["actorder"] = null, ["block_structure"] = null, ["observer"] = "minmax", ["observer_kwargs"] = new JsonObject(),
                },
                ["input_activations"] = s.ActivationBits == 8
                    ? new JsonObject
                    {
                        ["num_bits"] = 8, ["type"] = "int", ["symmetric"] = true, ["strategy"] = "token", ["dynamic"] = true,
                        ["group_size"] = null, ["block_structure"] = null, ["actorder"] = null, ["observer"] = null, ["observer_kwargs"] = new JsonObject(),
                    }
                    : null,
                ["output_activations"] = null,
            };
        }
        return new JsonObject
        {
            ["quant_method"] = CompressedTensorsScheme.QuantMethod,
            ["format"] = Format,
            ["quantization_status"] = "compressed",
            ["config_groups"] = groups,
            ["ignore"] = new JsonArray(Ignore.Select(i => (JsonNode)i).ToArray()),
            ["kv_cache_scheme"] = null,
        };
    }
}
