using System.Text;
using System.Text.Json;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.OpenAi;

/// <summary>POST /v1/completions: the legacy text completions API (with vLLM's extra sampling fields).</summary>
public static class CompletionsEndpoint
{
    public static Task Handle(HttpContext ctx) => EndpointSupport.Handle(ctx, json => Run(ctx, json));

    private sealed class Choice(int index, IReadOnlyList<int> prompt, string echoText, CompletionLogprobs? logprobs)
    {
        public int Index { get; } = index;
        public IReadOnlyList<int> Prompt { get; } = prompt;
        public string EchoText { get; } = echoText;
        public CompletionLogprobs? Logprobs { get; } = logprobs;
        public StringBuilder Text { get; } = new();
        public CompletionLogprobsDto? AllLogprobs { get; set; }
        public int CompletionTokens { get; set; }
        public int CachedTokens { get; set; }
        public string? Finish { get; set; }
        public bool Started { get; set; }
    }

    private static async Task Run(HttpContext ctx, RequestJson j)
    {
        var (engine, model, stream, includeUsage) = EndpointSupport.Begin(ctx, j, KnownFields.Completion);
        if (j.Has("suffix")) throw ApiException.BadRequest("suffix is not supported.", "suffix");
        int n = SamplingParsing.ReadN(j);
        if (j.Int("best_of") is int bestOf && bestOf != n)
            throw ApiException.BadRequest($"best_of must equal n ({n}) when given; best_of > n is not supported.", "best_of");
        int? logprobs = j.Int("logprobs");
        bool echo = j.Bool("echo") ?? false;
        var prompts = ReadPrompts(j, engine);
        var sampling = SamplingParsing.Read(j, logprobs, chat: false) with { Constraint = StructuredOutputParsing.Read(j, engine) };

        string id = EndpointSupport.NewId("cmpl-");
        var requests = new List<GenerationRequest>();
        var choices = new List<Choice>();
        foreach (var prompt in prompts)
        {
            string echoText = echo ? engine.Tokenizer.Decode(prompt, skipSpecialTokens: true) : "";
            for (int i = 0; i < n; i++)
            {
                requests.Add(new GenerationRequest($"{id}-{choices.Count}", prompt, SamplingParsing.ForChoice(sampling, i), echo && logprobs is int k ? k : null));
                choices.Add(new Choice(choices.Count, prompt, echoText, logprobs is null ? null : new CompletionLogprobs(engine.Tokenizer)));
            }
        }
        var streams = GenerationRunner.SubmitAll(engine, requests, ctx.RequestAborted);
        long created = EndpointSupport.Now();
        var sse = SseWriter.StartIf(stream, ctx.Response);
        await foreach (var (index, output) in GenerationRunner.Merge(streams, ctx.RequestAborted))
        {
            var c = choices[index];
            var sb = new StringBuilder();
            CompletionLogprobsDto? slice = c.Logprobs?.NewSlice();
            if (!c.Started)
            {
                c.Started = true;
                sb.Append(c.EchoText);
                if (slice != null && echo && output.PromptLogprobs is { } plp)
                    for (int t = 0; t < c.Prompt.Count; t++) c.Logprobs!.Add(slice, c.Prompt[t], t < plp.Count ? plp[t] : null);
            }
            sb.Append(output.TextDelta);
            c.CompletionTokens += output.TokenIds.Count;
            if (slice != null)
                for (int t = 0; t < output.TokenIds.Count; t++) c.Logprobs!.Add(slice, output.TokenIds[t], output.Logprobs is { } l && t < l.Count ? l[t] : null);
            if (output.Finish is { } f) c.Finish = GenerationRunner.FinishReasonText(f);
            if (output.Usage is { } u) c.CachedTokens = u.CachedPromptTokens;
            if (sse != null)
            {
                if (sb.Length == 0 && output.Finish is null && slice is not { Tokens.Count: > 0 }) continue;
                var chunk = new CompletionChunk(id, "text_completion", created, model,
                    [new CompletionChoiceDto(index, sb.ToString(), slice, output.Finish is null ? null : c.Finish)], null);
                await sse.WriteAsync(chunk, OpenAiJson.Context.CompletionChunk, ctx.RequestAborted);
            }
            else
            {
                c.Text.Append(sb);
                if (slice != null)
                {
                    c.AllLogprobs ??= c.Logprobs!.NewSlice();
                    CompletionLogprobs.Append(c.AllLogprobs, slice);
                }
            }
        }
        var usage = Usage(prompts, choices);
        if (sse != null)
        {
            await sse.FinishAsync(includeUsage ? new CompletionChunk(id, "text_completion", created, model, [], usage) : null, OpenAiJson.Context.CompletionChunk, ctx.RequestAborted);
            return;
        }
        var response = new CompletionResponse(id, "text_completion", created, model,
            choices.Select(c => new CompletionChoiceDto(c.Index, c.Text.ToString(), c.AllLogprobs ?? (c.Logprobs is null ? null : c.Logprobs.NewSlice()), c.Finish ?? "stop")).ToList(),
            usage);
        await OpenAiJson.WriteBodyAsync(ctx.Response, response, OpenAiJson.Context.CompletionResponse, ctx.RequestAborted);
    }

    // Prompt tokens count once per prompt (not per choice), as OpenAI and vLLM report them; so do cached prompt
    // tokens, taken from each prompt's first choice (the later copies find the first one's blocks cached anyway).
    private static UsageDto Usage(List<IReadOnlyList<int>> prompts, List<Choice> choices)
    {
        int p = prompts.Sum(x => x.Count), c = choices.Sum(x => x.CompletionTokens);
        int cached = choices.DistinctBy(x => x.Prompt, ReferenceEqualityComparer.Instance).Sum(x => x.CachedTokens);
        return new UsageDto(p, c, cached);
    }

    /// <summary>prompt: a string, a list of strings, a list of token ids, or a list of token-id lists.</summary>
    private static List<IReadOnlyList<int>> ReadPrompts(RequestJson j, IInferenceEngine engine)
    {
        if (j.Get("prompt") is not { } p) throw ApiException.BadRequest("prompt is required.", "prompt");
        const string expected = "a string, a list of strings, a list of token ids or a list of token-id lists";
        if (p.ValueKind == JsonValueKind.String) return [engine.Tokenizer.Encode(p.GetString()!, addSpecialTokens: true)];
        if (p.ValueKind != JsonValueKind.Array) throw RequestJson.TypeError("prompt", expected);
        var items = p.EnumerateArray().ToList();
        if (items.Count == 0) throw ApiException.BadRequest("prompt cannot be empty.", "prompt");
        if (items.All(e => e.ValueKind == JsonValueKind.String))
            return items.Select(e => engine.Tokenizer.Encode(e.GetString()!, addSpecialTokens: true)).ToList();
        if (items.All(e => e.ValueKind == JsonValueKind.Number)) return [TokenIds(items)];
        if (items.All(e => e.ValueKind == JsonValueKind.Array))
            return items.Select(e => (IReadOnlyList<int>)TokenIds(e.EnumerateArray().ToList())).ToList();
        throw RequestJson.TypeError("prompt", expected);
    }

    private static List<int> TokenIds(List<JsonElement> items)
    {
        var ids = new List<int>(items.Count);
        foreach (var e in items)
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id)) throw RequestJson.TypeError("prompt", "token ids that are integers");
            ids.Add(id);
        }
        if (ids.Count == 0) throw ApiException.BadRequest("prompt cannot be empty.", "prompt");
        return ids;
    }
}
