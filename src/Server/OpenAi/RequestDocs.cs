using System.ComponentModel;
using System.Reflection;
using System.Text.Json;

namespace InferenceServer.Server.OpenAi;

// Request bodies as the OpenAPI document shows them. The handlers read the JSON themselves (RequestJson, so that a
// wrong type is a 400 naming the field), so these classes exist only to describe the bodies; they are also the list
// of known fields that RequestJson.WarnUnknown checks against, which keeps the document and the check in step.

/// <summary>Sampling fields shared by /v1/completions and /v1/chat/completions, vLLM's extras included.</summary>
public abstract class SamplingFieldsDoc
{
    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    [Description("Choices per prompt, 1 to 16.")]
    public int? N { get; init; }
    public bool? Stream { get; init; }
    public StreamOptionsDoc? StreamOptions { get; init; }
    [Description("A string or a list of up to 32 non-empty strings.")]
    public JsonElement? Stop { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    [Description("Token id (as a string) to a bias in [-100, 100].")]
    public Dictionary<string, float>? LogitBias { get; init; }
    public long? Seed { get; init; }
    public string? User { get; init; }
    [Description("vLLM: keep only the k most likely tokens (0 or -1: off).")]
    public int? TopK { get; init; }
    [Description("vLLM: drop tokens below min_p times the top probability.")]
    public float? MinP { get; init; }
    [Description("vLLM: multiplicative penalty on tokens already seen (1: off).")]
    public float? RepetitionPenalty { get; init; }
    [Description("vLLM: generate at least this many tokens before EOS or stop may end the output.")]
    public int? MinTokens { get; init; }
    [Description("vLLM: token ids that end the output.")]
    public List<int>? StopTokenIds { get; init; }
    [Description("vLLM: keep generating past EOS (benchmarks).")]
    public bool? IgnoreEos { get; init; }
    [Description("vLLM: leave special tokens out of the text (default true).")]
    public bool? SkipSpecialTokens { get; init; }
    [Description("vLLM structured outputs: the output is one JSON value valid for this JSON Schema (an object, or its JSON text). Supported subset as response_format's json_schema.")]
    public JsonElement? GuidedJson { get; init; }
    [Description("vLLM structured outputs: the whole output matches this regular expression (no backreferences or lookaround).")]
    public string? GuidedRegex { get; init; }
    [Description("vLLM structured outputs: the output is exactly one of these strings.")]
    public List<string>? GuidedChoice { get; init; }
}

public sealed class StreamOptionsDoc
{
    [Description("Send a last chunk with usage and no choices.")]
    public bool? IncludeUsage { get; init; }
}

public sealed class CompletionRequestDoc : SamplingFieldsDoc
{
    [Description("A string, a list of strings, a list of token ids, or a list of token-id lists.")]
    public required JsonElement Prompt { get; init; }
    [Description("Not supported; any value is a 400.")]
    public string? Suffix { get; init; }
    [Description("Top alternatives per token, 0 to 20.")]
    public int? Logprobs { get; init; }
    [Description("Prepend the prompt (and its logprobs) to each choice.")]
    public bool? Echo { get; init; }
    [Description("Must equal n when given.")]
    public int? BestOf { get; init; }
    [Description(ChatCompletionRequestDoc.ResponseFormatText)]
    public JsonElement? ResponseFormat { get; init; }
}

public sealed class ChatRequestMessageDoc
{
    [Description("system, developer, user, assistant, tool or function.")]
    public required string Role { get; init; }
    [Description("A string, or a list of {\"type\": \"text\", \"text\": ...} parts.")]
    public JsonElement? Content { get; init; }
    public string? Name { get; init; }
    [Description("Assistant messages: the calls the model made, [{\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\": JSON string}}]; the template receives arguments parsed into an object.")]
    public JsonElement? ToolCalls { get; init; }
    [Description("Tool messages: the id of the call this message answers.")]
    public string? ToolCallId { get; init; }
}

public sealed class ChatCompletionRequestDoc : SamplingFieldsDoc
{
    public const string ResponseFormatText =
        "{\"type\": \"text\"} (default), {\"type\": \"json_object\"} (the output is one JSON object) or " +
        "{\"type\": \"json_schema\", \"json_schema\": {\"name\", \"schema\", \"strict\"}} (one JSON value valid for the schema), " +
        "by constrained decoding. Schema subset (OpenAI strict mode's): type, properties, required, additionalProperties, items, " +
        "enum, const, anyOf, $ref/$defs; any other keyword is a 400 naming it. Output is compact JSON with properties in schema order.";

    public required List<ChatRequestMessageDoc> Messages { get; init; }
    public int? MaxCompletionTokens { get; init; }
    public bool? Logprobs { get; init; }
    [Description("0 to 20; needs logprobs.")]
    public int? TopLogprobs { get; init; }
    [Description(ResponseFormatText)]
    public JsonElement? ResponseFormat { get; init; }
    [Description("Function tools, [{\"type\": \"function\", \"function\": {\"name\", \"description\"?, \"parameters\"?}}]; rendered through the model's chat template.")]
    public JsonElement? Tools { get; init; }
    [Description("\"none\" (tools shown, output not read for calls), \"auto\" (default with tools; needs --enable-auto-tool-choice and --tool-call-parser: calls are read from the output with that parser), \"required\", or {\"type\": \"function\", \"function\": {\"name\": ...}}.")]
    public JsonElement? ToolChoice { get; init; }
    [Description("Default true; false keeps only the first call of each choice.")]
    public bool? ParallelToolCalls { get; init; }
}

public sealed class TokenizeRequestDoc
{
    public string? Model { get; init; }
    [Description("Text to tokenize; or give messages to tokenize a chat through the template.")]
    public string? Prompt { get; init; }
    public List<ChatRequestMessageDoc>? Messages { get; init; }
    public bool? AddSpecialTokens { get; init; }
    public bool? AddGenerationPrompt { get; init; }
}

public sealed class DetokenizeRequestDoc
{
    public string? Model { get; init; }
    public required List<int> Tokens { get; init; }
}

/// <summary>Known top-level fields per route, in the JSON spelling.</summary>
public static class KnownFields
{
    public static readonly IReadOnlySet<string> Completion = Of<CompletionRequestDoc>();
    public static readonly IReadOnlySet<string> Chat = Of<ChatCompletionRequestDoc>();

    private static HashSet<string> Of<T>() =>
        typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name))
            .ToHashSet(StringComparer.Ordinal);
}
