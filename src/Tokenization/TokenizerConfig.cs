using System.Text.Json;

namespace InferenceServer.Tokenization;

/// <summary>
/// The parts of transformers' <c>tokenizer_config.json</c> the server uses: special-token strings, whether to add
/// BOS/EOS, the chat template(s), added tokens and the maximum length. Missing fields stay null.
/// </summary>
public sealed class TokenizerConfig
{
    public static readonly TokenizerConfig Empty = new();

    public string? TokenizerClass { get; init; }

    public string? BosToken { get; init; }

    public string? EosToken { get; init; }

    public string? UnkToken { get; init; }

    public string? PadToken { get; init; }

    public bool? AddBosToken { get; init; }

    public bool? AddEosToken { get; init; }

    /// <summary>transformers' Llama <c>legacy</c> flag (null when absent; transformers then behaves as legacy=true).</summary>
    public bool? Legacy { get; init; }

    /// <summary>The default chat template (the one named "default" when the file lists several), or null.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>All templates by name ("default", "tool_use", ...); a single-string template is "default".</summary>
    public IReadOnlyDictionary<string, string> ChatTemplates { get; init; } = new Dictionary<string, string>();

    /// <summary>added_tokens_decoder, in id order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    /// <summary>model_max_length, or null when absent or the "unset" sentinel (1e30).</summary>
    public int? ModelMaxLength { get; init; }

    public static TokenizerConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new TokenizerLoadException(path, "file not found");
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
            return Parse(json.RootElement);
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException(path, $"invalid JSON: {e.Message}", e);
        }
        catch (FormatException e)
        {
            throw new TokenizerLoadException(path, e.Message, e);
        }
        catch (InvalidOperationException e)
        {
            throw new TokenizerLoadException(path, $"unexpected value type: {e.Message}", e);
        }
    }

    public static TokenizerConfig Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new FormatException("expected a JSON object at the top level");
        var templates = ReadChatTemplates(root);
        return new TokenizerConfig
        {
            TokenizerClass = OptionalString(root, "tokenizer_class"),
            BosToken = TokenString(root, "bos_token"),
            EosToken = TokenString(root, "eos_token"),
            UnkToken = TokenString(root, "unk_token"),
            PadToken = TokenString(root, "pad_token"),
            AddBosToken = OptionalBool(root, "add_bos_token"),
            AddEosToken = OptionalBool(root, "add_eos_token"),
            Legacy = OptionalBool(root, "legacy"),
            ChatTemplates = templates,
            ChatTemplate = templates.GetValueOrDefault("default"),
            AddedTokens = ReadAddedTokens(root),
            ModelMaxLength = root.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number &&
                             max.GetDouble() is var m && m <= int.MaxValue ? (int)m : null,
        };
    }

    /// <summary>A copy with the chat template replaced (chat_template.jinja overrides the config's template).</summary>
    public TokenizerConfig WithChatTemplate(string template)
    {
        var templates = new Dictionary<string, string>(ChatTemplates) { ["default"] = template };
        return new TokenizerConfig
        {
            TokenizerClass = TokenizerClass, BosToken = BosToken, EosToken = EosToken, UnkToken = UnkToken,
            PadToken = PadToken, AddBosToken = AddBosToken, AddEosToken = AddEosToken, Legacy = Legacy,
            AddedTokens = AddedTokens, ModelMaxLength = ModelMaxLength,
            ChatTemplate = template, ChatTemplates = templates,
        };
    }

    /// <summary>Special tokens are written either as "&lt;s&gt;" or as an AddedToken object {"content": "&lt;s&gt;", ...}.</summary>
    private static string? TokenString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value))
            return null;
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null => null,
            JsonValueKind.Object when value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
                => content.GetString(),
            _ => throw new FormatException($"\"{name}\" must be a string, null or an object with \"content\""),
        };
    }

    private static Dictionary<string, string> ReadChatTemplates(JsonElement root)
    {
        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!root.TryGetProperty("chat_template", out var value) || value.ValueKind == JsonValueKind.Null)
            return templates;
        if (value.ValueKind == JsonValueKind.String)
        {
            templates["default"] = value.GetString()!;
            return templates;
        }
        if (value.ValueKind != JsonValueKind.Array)
            throw new FormatException("\"chat_template\" must be a string or a list of {name, template}");
        foreach (var entry in value.EnumerateArray())
        {
            var name = OptionalString(entry, "name");
            var template = OptionalString(entry, "template");
            if (name is null || template is null)
                throw new FormatException("each \"chat_template\" entry needs \"name\" and \"template\" strings");
            templates[name] = template;
        }
        return templates;
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root)
    {
        var tokens = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens_decoder", out var decoder) || decoder.ValueKind != JsonValueKind.Object)
            return tokens;
        foreach (var property in decoder.EnumerateObject())
        {
            if (!int.TryParse(property.Name, out var id))
                throw new FormatException($"added_tokens_decoder key \"{property.Name}\" is not an id");
            tokens.Add(ReadAddedToken(property.Value, id));
        }
        tokens.Sort((a, b) => a.Id.CompareTo(b.Id));
        return tokens;
    }

    /// <summary>Reads an AddedToken object as both tokenizer.json and tokenizer_config.json write it.</summary>
    internal static AddedToken ReadAddedToken(JsonElement token, int id) => new(
        OptionalString(token, "content") ?? throw new FormatException($"added token {id} has no \"content\""),
        id,
        Special: OptionalBool(token, "special") ?? false,
        LStrip: OptionalBool(token, "lstrip") ?? false,
        RStrip: OptionalBool(token, "rstrip") ?? false,
        SingleWord: OptionalBool(token, "single_word") ?? false,
        Normalized: OptionalBool(token, "normalized") ?? false);

    private static string? OptionalString(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool? OptionalBool(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}
