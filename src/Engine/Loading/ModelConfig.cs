using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;

namespace InferenceServer.Engine.Loading;

/// <summary>
/// The architecture-independent view of an HF <c>config.json</c>. Decoder-only models of the supported families
/// (Llama, Mistral, Qwen2, OPT) all map onto these fields; architecture-specific ones are grouped at the end.
/// </summary>
public sealed record ModelConfig
{
    public required string Architecture { get; init; }
    public required string ModelType { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    /// <summary>The dtype the checkpoint was saved in (<c>torch_dtype</c> or <c>dtype</c>), if stated.</summary>
    public torch.ScalarType? CheckpointDtype { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    // Llama family (Llama, Mistral, Qwen2)
    public double RmsNormEps { get; init; } = 1e-6;
    public RopeScaling Rope { get; init; } = new(10000, "default");
    public bool QkvBias { get; init; }
    public bool OutputProjBias { get; init; }
    public bool MlpBias { get; init; }
    /// <summary>Mistral's sliding attention window in tokens; null when attention is global.</summary>
    public int? SlidingWindow { get; init; }

    // OPT
    public bool DoLayerNormBefore { get; init; } = true;
    public int WordEmbedProjDim { get; init; }
    public bool EnableBias { get; init; } = true;
    public bool RemoveFinalLayerNorm { get; init; }
    public string HiddenAct { get; init; } = "silu";
    /// <summary>config.json's quantization_config: set when the checkpoint was quantized before (e.g. compressed-tensors).</summary>
    public JsonObject? QuantizationConfig { get; init; }

    public bool IsOpt => Architecture == "OPTForCausalLM";

    public static readonly string[] SupportedArchitectures =
        ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "OPTForCausalLM"];

    public static ModelConfig Load(string modelDir)
    {
        var path = Path.Combine(modelDir, "config.json");
        if (!File.Exists(path))
            throw new ModelLoadException($"{Path.GetFullPath(path)}: not found. --model must name a Hugging Face checkpoint folder with a config.json.");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ModelLoadException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{path}: invalid JSON ({e.Message}).", e);
        }
        try
        {
            return Parse(root);
        }
        catch (ModelLoadException e)
        {
            throw new ModelLoadException($"{path}: {e.Message}", e);
        }
    }

    public static ModelConfig Parse(JsonObject c)
    {
        var archs = c["architectures"] as JsonArray;
        var arch = archs?.FirstOrDefault()?.GetValue<string>()
            ?? throw new ModelLoadException("no \"architectures\" entry.");
        if (!SupportedArchitectures.Contains(arch))
            throw new ModelLoadException($"architecture {arch} is not supported; supported: {string.Join(", ", SupportedArchitectures)}.");
        var modelType = Str(c, "model_type") ?? "";
        var hidden = Req(c, "hidden_size");
        var heads = Req(c, "num_attention_heads");
        var eos = c["eos_token_id"] switch
        {
            JsonArray a => a.Select(x => x!.GetValue<int>()).ToArray(),
            JsonValue v => [v.GetValue<int>()],
            _ => Array.Empty<int>(),
        };
        var common = new ModelConfig
        {
            Architecture = arch,
            ModelType = modelType,
            HiddenSize = hidden,
            NumHeads = heads,
            NumKvHeads = Int(c, "num_key_value_heads") ?? heads,
            HeadDim = Int(c, "head_dim") ?? hidden / heads,
            NumLayers = Req(c, "num_hidden_layers"),
            VocabSize = Req(c, "vocab_size"),
            MaxPositionEmbeddings = Int(c, "max_position_embeddings") ?? 2048,
            IntermediateSize = Int(c, "intermediate_size") ?? Int(c, "ffn_dim") ?? throw new ModelLoadException("missing intermediate_size."),
            TieWordEmbeddings = Bool(c, "tie_word_embeddings") ?? arch == "OPTForCausalLM",
            CheckpointDtype = ParseDtype(Str(c, "dtype") ?? Str(c, "torch_dtype")),
            BosTokenId = Int(c, "bos_token_id"),
            EosTokenIds = eos,
            HiddenAct = Str(c, "hidden_act") ?? Str(c, "activation_function") ?? "silu",
            QuantizationConfig = c["quantization_config"]?.DeepClone() as JsonObject,
        };
        if (arch == "OPTForCausalLM")
        {
            return common with
            {
                DoLayerNormBefore = Bool(c, "do_layer_norm_before") ?? true,
                WordEmbedProjDim = Int(c, "word_embed_proj_dim") ?? hidden,
                EnableBias = Bool(c, "enable_bias") ?? true,
                RemoveFinalLayerNorm = Bool(c, "_remove_final_layer_norm") ?? false,
            };
        }
        bool useSliding = arch == "MistralForCausalLM" || (Bool(c, "use_sliding_window") ?? false);
        return common with
        {
            RmsNormEps = Double(c, "rms_norm_eps") ?? 1e-6,
            Rope = ParseRope(c),
            QkvBias = arch == "Qwen2ForCausalLM" || (Bool(c, "attention_bias") ?? false),
            OutputProjBias = arch != "Qwen2ForCausalLM" && (Bool(c, "attention_bias") ?? false),
            MlpBias = Bool(c, "mlp_bias") ?? false,
            SlidingWindow = useSliding ? Int(c, "sliding_window") : null,
        };
    }

    private static RopeScaling ParseRope(JsonObject c)
    {
        // New form: rope_parameters { rope_theta, rope_type, factor, ... }; old form: rope_theta + rope_scaling.
        var p = c["rope_parameters"] as JsonObject;
        var s = p ?? c["rope_scaling"] as JsonObject;
        var theta = Double(p ?? c, "rope_theta") ?? Double(c, "rope_theta") ?? 10000.0;
        var type = s is null ? "default" : Str(s, "rope_type") ?? Str(s, "type") ?? "default";
        if (!RopeScaling.SupportedTypes.Contains(type))
            throw new ModelLoadException($"rope scaling type \"{type}\" is not supported; supported: {string.Join(", ", RopeScaling.SupportedTypes)}.");
        if (s is null)
            return new RopeScaling(theta, type);
        return new RopeScaling(
            theta, type,
            Factor: Double(s, "factor") ?? 1.0,
            LowFreqFactor: Double(s, "low_freq_factor") ?? 1.0,
            HighFreqFactor: Double(s, "high_freq_factor") ?? 4.0,
            OriginalMaxPositionEmbeddings: Int(s, "original_max_position_embeddings") ?? 8192);
    }

    public static torch.ScalarType? ParseDtype(string? name) => name switch
    {
        null => null,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        "float16" or "fp16" or "half" => torch.ScalarType.Float16,
        "float32" or "fp32" or "float" => torch.ScalarType.Float32,
        _ => throw new ModelLoadException($"dtype \"{name}\" is not supported; use float32, float16 or bfloat16."),
    };

    private static int Req(JsonObject c, string key) =>
        Int(c, key) ?? throw new ModelLoadException($"missing \"{key}\".");

    private static int? Int(JsonObject c, string key) => c[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<int>() : null;

    private static double? Double(JsonObject c, string key) => c[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : null;

    private static bool? Bool(JsonObject c, string key) => c[key] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    private static string? Str(JsonObject c, string key) => c[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
}
