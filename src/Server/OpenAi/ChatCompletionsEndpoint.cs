using System.Text;
using System.Text.Json;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.Server.Settings;
using InferenceServer.Server.ToolCalling;

namespace InferenceServer.Server.OpenAi;

/// <summary>POST /v1/chat/completions.</summary>
public static class ChatCompletionsEndpoint
{
    /// <summary>vLLM's default max_logprobs.</summary>
    private const int MaxTopLogprobs = 20;

    public static Task Handle(HttpContext ctx) => EndpointSupport.Handle(ctx, json => Run(ctx, json));

    private sealed class Choice
    {
        public StringBuilder Text { get; } = new();
        public List<ChatTokenLogprobDto>? Logprobs { get; set; }
        public int CompletionTokens { get; set; }
        public int CachedTokens { get; set; }
        public string? Finish { get; set; }
        public bool Started { get; set; }
        public ToolCallStream? ToolStream { get; set; }
        public int ToolCallsSent;
    }

    private static async Task Run(HttpContext ctx, RequestJson j)
    {
        var (engine, model, stream, includeUsage) = EndpointSupport.Begin(ctx, j, KnownFields.Chat);
        int n = SamplingParsing.ReadN(j);
        bool logprobs = j.Bool("logprobs") ?? false;
        int? top = j.Int("top_logprobs");
        if (top is int t && (t < 0 || t > MaxTopLogprobs))
            throw ApiException.BadRequest($"top_logprobs must be between 0 and {MaxTopLogprobs}, got {t}.", "top_logprobs");
        if (top is not null && !logprobs) throw ApiException.BadRequest("top_logprobs requires logprobs to be true.", "top_logprobs");
        var tools = ChatTools.Read(j, ctx.RequestServices.GetRequiredService<ServerSettings>());
        var sampling = SamplingParsing.Read(j, logprobs ? top ?? 0 : null, chat: true) with { Constraint = StructuredOutputParsing.Read(j, engine) };
        if (tools is { Forced: true })
        {
            if (sampling.Constraint is not null)
                throw ApiException.BadRequest("A forced tool call and response_format/guided_* both constrain the output; give one.", "tool_choice");
            sampling = sampling with { Constraint = tools.ForcedConstraint(engine) };
        }
        else if (tools is { ParsesOutput: true, Parser.NeedsSpecialTokens: true }) sampling = sampling with { SkipSpecialTokens = false };
        var prompt = ChatPrompt.Encode(engine, j, tools: tools?.TemplateTools, assistantPrefix: tools?.Prefix ?? "");

        string id = EndpointSupport.NewId("chatcmpl-");
        var requests = Enumerable.Range(0, n).Select(i => new GenerationRequest($"{id}-{i}", prompt, SamplingParsing.ForChoice(sampling, i))).ToList();
        List<IAsyncEnumerable<GenerationOutput>> streams;
        try
        {
            streams = GenerationRunner.SubmitAll(engine, requests, ctx.RequestAborted);
        }
        catch (ApiException e) when (e.Param == "prompt")
        {
            // The engine speaks of the prompt; in a chat request that prompt is the messages.
            throw new ApiException(e.Status, e.Message, "messages", e.Type, e.Code);
        }
        var choices = Enumerable.Range(0, n).Select(_ => new Choice { ToolStream = tools is { ParsesOutput: true } ? new ToolCallStream(tools.Parser!, tools.Prefix) : null }).ToList();
        long created = EndpointSupport.Now();
        var sse = SseWriter.StartIf(stream, ctx.Response);
        await foreach (var (index, output) in GenerationRunner.Merge(streams, ctx.RequestAborted))
        {
            var c = choices[index];
            c.CompletionTokens += output.TokenIds.Count;
            List<ChatTokenLogprobDto>? slice = logprobs ? Logprobs(engine.Tokenizer, output) : null;
            if (output.Finish is { } f) c.Finish = GenerationRunner.FinishReasonText(f);
            if (output.Usage is { } u) c.CachedTokens = u.CachedPromptTokens;
            if (sse is null)
            {
                c.Text.Append(output.TextDelta);
                if (slice != null) (c.Logprobs ??= []).AddRange(slice);
                continue;
            }
            if (!c.Started)
            {
                // OpenAI's first chunk of each choice announces the role with empty content.
                c.Started = true;
                await sse.WriteAsync(Chunk(id, created, model, index, new ChatDeltaDto("assistant", ""), null, null), OpenAiJson.Context.ChatCompletionChunk, ctx.RequestAborted);
            }
            ChatDeltaDto? delta;
            if (c.ToolStream is { } toolStream)
            {
                delta = ChatToolOutput.Delta(toolStream, tools!, output.TextDelta, output.Finish is not null, ref c.ToolCallsSent);
                if (output.Finish is not null) c.Finish = ChatToolOutput.Finish(c.Finish!, c.ToolCallsSent > 0, tools);
                if (delta is null && output.Finish is null && slice is not { Count: > 0 }) continue;
                delta ??= new ChatDeltaDto(null, output.Finish is null ? "" : null);
            }
            else
            {
                if (output.TextDelta.Length == 0 && output.Finish is null && slice is not { Count: > 0 }) continue;
                delta = new ChatDeltaDto(null, output.TextDelta.Length > 0 || output.Finish is null ? output.TextDelta : null);
            }
            await sse.WriteAsync(Chunk(id, created, model, index, delta, slice is null ? null : new ChatLogprobsDto(slice), output.Finish is null ? null : c.Finish),
                OpenAiJson.Context.ChatCompletionChunk, ctx.RequestAborted);
        }
        int completion = choices.Sum(c => c.CompletionTokens);
        // The n choices share one prompt, counted once; its cached part is the first choice's.
        var usage = new UsageDto(prompt.Count, completion, choices[0].CachedTokens);
        if (sse != null)
        {
            await sse.FinishAsync(includeUsage ? new ChatCompletionChunk(id, "chat.completion.chunk", created, model, [], usage) : null, OpenAiJson.Context.ChatCompletionChunk, ctx.RequestAborted);
            return;
        }
        var response = new ChatCompletionResponse(id, "chat.completion", created, model,
            choices.Select((c, i) =>
            {
                var (message, called) = ChatToolOutput.Message(c.Text.ToString(), tools);
                return new ChatChoiceDto(i, message, logprobs ? new ChatLogprobsDto(c.Logprobs ?? []) : null, ChatToolOutput.Finish(c.Finish ?? "stop", called, tools));
            }).ToList(),
            usage);
        await OpenAiJson.WriteBodyAsync(ctx.Response, response, OpenAiJson.Context.ChatCompletionResponse, ctx.RequestAborted);
    }

    private static ChatCompletionChunk Chunk(string id, long created, string model, int index, ChatDeltaDto delta, ChatLogprobsDto? logprobs, string? finish) =>
        new(id, "chat.completion.chunk", created, model, [new ChatChunkChoiceDto(index, delta, logprobs, finish)], null);

    private static List<ChatTokenLogprobDto> Logprobs(ITokenizer tokenizer, GenerationOutput output)
    {
        var list = new List<ChatTokenLogprobDto>();
        for (int i = 0; i < output.TokenIds.Count; i++)
        {
            var lp = output.Logprobs is { } l && i < l.Count ? l[i] : null;
            string token = tokenizer.Decode([output.TokenIds[i]], skipSpecialTokens: false);
            var top = lp?.Top.Select(a =>
            {
                string s = tokenizer.Decode([a.TokenId], skipSpecialTokens: false);
                return new TopLogprobDto(s, Finite(a.Logprob), Bytes(s));
            }).ToList() ?? [];
            list.Add(new ChatTokenLogprobDto(token, Finite(lp?.Logprob ?? 0f), Bytes(token), top));
        }
        return list;
    }

    /// <summary>JSON has no -inf; vLLM writes -9999 for impossible tokens, so do we.</summary>
    public static float Finite(float x) => float.IsFinite(x) ? x : -9999f;

    private static List<int> Bytes(string s) => Encoding.UTF8.GetBytes(s).Select(b => (int)b).ToList();
}
