using System.Text.Json.Serialization;

namespace InferenceServer.Server.OpenAi;

// Response shapes of the OpenAI API. Nulls are written (OpenAI sends "logprobs": null, "finish_reason": null).

/// <summary>Usage with vLLM's prompt_tokens_details.cached_tokens: prompt tokens whose KV came from the prefix cache.</summary>
public sealed record UsageDto(int PromptTokens, int CompletionTokens, int TotalTokens, PromptTokensDetailsDto PromptTokensDetails)
{
    public UsageDto(int promptTokens, int completionTokens, int cachedTokens)
        : this(promptTokens, completionTokens, promptTokens + completionTokens, new PromptTokensDetailsDto(cachedTokens)) { }
}

public sealed record PromptTokensDetailsDto(int CachedTokens);

/// <summary>The legacy completions logprobs: parallel lists, one entry per token.</summary>
public sealed record CompletionLogprobsDto(
    List<string> Tokens,
    List<float?> TokenLogprobs,
    List<Dictionary<string, float>?> TopLogprobs,
    List<int> TextOffset);

public sealed record CompletionChoiceDto(int Index, string Text, CompletionLogprobsDto? Logprobs, string? FinishReason);

public sealed record CompletionResponse(string Id, string Object, long Created, string Model, List<CompletionChoiceDto> Choices, UsageDto? Usage);

public sealed record TopLogprobDto(string Token, float Logprob, List<int>? Bytes);

public sealed record ChatTokenLogprobDto(string Token, float Logprob, List<int>? Bytes, List<TopLogprobDto> TopLogprobs);

public sealed record ChatLogprobsDto(List<ChatTokenLogprobDto> Content);

/// <summary>
/// An assistant message. <c>refusal</c> is always written (null: this server never refuses), as OpenAI's schema
/// requires; <c>tool_calls</c> only when the model called tools.
/// </summary>
public sealed record ChatMessageDto(
    string Role,
    string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [property: System.ComponentModel.Description("The calls the model made (tools with tool_choice auto, required or a named function); absent when none.")]
    List<ToolCallDto>? ToolCalls = null,
    [property: System.ComponentModel.Description("Always null: this server never refuses.")]
    string? Refusal = null);

public sealed record FunctionCallDto(string Name, string Arguments);

/// <summary>A call in a message: type is always "function".</summary>
public sealed record ToolCallDto(string Id, string Type, FunctionCallDto Function);

/// <summary>A call in a streamed delta, as OpenAI streams them: index always, the rest only where it has something.</summary>
public sealed record ToolCallDeltaDto(
    int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Type,
    FunctionCallDeltaDto Function);

public sealed record FunctionCallDeltaDto(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Arguments);

public sealed record ChatChoiceDto(int Index, ChatMessageDto Message, ChatLogprobsDto? Logprobs, string? FinishReason);

public sealed record ChatCompletionResponse(string Id, string Object, long Created, string Model, List<ChatChoiceDto> Choices, UsageDto Usage);

/// <summary>A streamed delta; unset fields are omitted (OpenAI sends only what changed).</summary>
public sealed record ChatDeltaDto(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<ToolCallDeltaDto>? ToolCalls = null);

public sealed record ChatChunkChoiceDto(int Index, ChatDeltaDto Delta, ChatLogprobsDto? Logprobs, string? FinishReason);

public sealed record ChatCompletionChunk(
    string Id, string Object, long Created, string Model, List<ChatChunkChoiceDto> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageDto? Usage);

public sealed record CompletionChunk(
    string Id, string Object, long Created, string Model, List<CompletionChoiceDto> Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageDto? Usage);

public sealed record TokenizeResponse(List<int> Tokens, int Count, int MaxModelLen);

public sealed record DetokenizeResponse(string Prompt);

public sealed record ModelDto(string Id, string Object, long Created, string OwnedBy, int MaxModelLen, ParallelDto Parallel);

/// <summary>How the model is split (an extension of OpenAI's model object): ranks, and one rank's weight and KV-cache bytes.</summary>
public sealed record ParallelDto(int TensorParallelSize, long WeightBytesPerRank, long KvCacheBytesPerRank)
{
    public static ParallelDto From(InferenceServer.Engine.Serving.ParallelInfo p) => new(p.TensorParallelSize, p.WeightBytesPerRank, p.KvCacheBytesPerRank);
}

public sealed record ModelListDto(string Object, List<ModelDto> Data);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ErrorEnvelope))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(CompletionChunk))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(TokenizeResponse))]
[JsonSerializable(typeof(DetokenizeResponse))]
[JsonSerializable(typeof(ModelListDto))]
public sealed partial class OpenAiJsonContext : JsonSerializerContext;
