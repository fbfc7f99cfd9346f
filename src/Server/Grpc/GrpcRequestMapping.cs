using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.GrpcApi.V1;

namespace InferenceServer.Server.Grpc;

/// <summary>Maps protobuf messages to engine types and back. Range checks stay in the engine (SamplingParams.Validate).</summary>
public static class GrpcRequestMapping
{
    /// <summary>Top alternatives per position, as over REST (vLLM's max_logprobs).</summary>
    public const int MaxLogprobs = 20;

    /// <summary>
    /// The engine requests of one call: n choices of one prompt. Choice i of a seeded request uses seed + i (as over
    /// REST); prompt logprobs are asked of choice 0 only, since every choice shares the prompt.
    /// </summary>
    public static List<GenerationRequest> ToEngineRequests(GenerateRequest r, ITokenizer tokenizer)
    {
        var s = r.Sampling ?? new SamplingParameters();
        int n = s.HasN ? s.N : 1;
        if (n < 1 || n > OpenAi.SamplingParsing.MaxN)
            throw GrpcErrors.InvalidArgument($"n must be between 1 and {OpenAi.SamplingParsing.MaxN}, got {n}.", "n");
        if (s.HasPromptLogprobs && (s.PromptLogprobs < 0 || s.PromptLogprobs > MaxLogprobs))
            throw GrpcErrors.InvalidArgument($"prompt_logprobs must be between 0 and {MaxLogprobs}, got {s.PromptLogprobs}.", "prompt_logprobs");
        var first = ToEngine(r, tokenizer);
        var requests = new List<GenerationRequest>(n) { first with { PromptLogprobs = s.HasPromptLogprobs ? s.PromptLogprobs : null } };
        for (int i = 1; i < n; i++)
            requests.Add(first with { RequestId = $"{first.RequestId}-{i}", Sampling = OpenAi.SamplingParsing.ForChoice(first.Sampling, i) });
        return requests;
    }

    public static GenerationRequest ToEngine(GenerateRequest r, ITokenizer tokenizer)
    {
        IReadOnlyList<int> prompt = r.PromptCase switch
        {
            GenerateRequest.PromptOneofCase.Text => tokenizer.Encode(r.Text, addSpecialTokens: !r.HasAddSpecialTokens || r.AddSpecialTokens),
            GenerateRequest.PromptOneofCase.TokenIds => [.. r.TokenIds.Ids],
            _ => throw GrpcErrors.InvalidArgument("prompt is required: set text or token_ids.", "prompt"),
        };
        string id = string.IsNullOrEmpty(r.RequestId) ? "grpc-" + Guid.NewGuid().ToString("N") : r.RequestId;
        return new GenerationRequest(id, prompt, ToEngine(r.Sampling ?? new SamplingParameters()));
    }

    /// <summary>Unset fields take <see cref="SamplingParams"/>'s defaults, so the documented defaults live in one place.</summary>
    public static SamplingParams ToEngine(SamplingParameters s)
    {
        var d = new SamplingParams();
        // The same cap as REST's stop field (one constant for both).
        if (s.Stop.Count > OpenAi.SamplingParsing.MaxStop)
            throw GrpcErrors.InvalidArgument($"stop may hold at most {OpenAi.SamplingParsing.MaxStop} strings, got {s.Stop.Count}.", "stop");
        return new SamplingParams
        {
            Temperature = s.HasTemperature ? s.Temperature : d.Temperature,
            TopP = s.HasTopP ? s.TopP : d.TopP,
            TopK = s.HasTopK ? s.TopK : d.TopK,
            MinP = s.HasMinP ? s.MinP : d.MinP,
            PresencePenalty = s.HasPresencePenalty ? s.PresencePenalty : d.PresencePenalty,
            FrequencyPenalty = s.HasFrequencyPenalty ? s.FrequencyPenalty : d.FrequencyPenalty,
            RepetitionPenalty = s.HasRepetitionPenalty ? s.RepetitionPenalty : d.RepetitionPenalty,
            LogitBias = s.LogitBias.Count == 0 ? null : s.LogitBias.ToDictionary(kv => kv.Key, kv => kv.Value),
            Seed = s.HasSeed ? s.Seed : null,
            MaxTokens = s.HasMaxTokens ? s.MaxTokens : null,
            MinTokens = s.HasMinTokens ? s.MinTokens : d.MinTokens,
            Stop = [.. s.Stop],
            StopTokenIds = [.. s.StopTokenIds],
            IgnoreEos = s.HasIgnoreEos ? s.IgnoreEos : d.IgnoreEos,
            SkipSpecialTokens = s.HasSkipSpecialTokens ? s.SkipSpecialTokens : d.SkipSpecialTokens,
            Logprobs = s.HasLogprobs ? s.Logprobs : null,
        };
    }

    /// <summary>Prompt logprobs in the proto's shape: entry 0 (the first prompt token) carries only the token.</summary>
    public static IEnumerable<PromptTokenLogprob> ToPromptLogprobs(IReadOnlyList<int> prompt, IReadOnlyList<OutputLogprob?> logprobs, ITokenizer tokenizer)
    {
        for (int t = 0; t < prompt.Count; t++)
        {
            var p = new PromptTokenLogprob { TokenId = prompt[t], Token = TokenText(prompt[t], tokenizer) };
            if (t < logprobs.Count && logprobs[t] is { } l)
            {
                p.Logprob = l.Logprob;
                p.Rank = l.Rank;
                p.Top.AddRange(l.Top.Select(a => new TopLogprob { TokenId = a.TokenId, Logprob = a.Logprob, Token = TokenText(a.TokenId, tokenizer) }));
            }
            yield return p;
        }
    }

    public static GenerateResponse ToResponse(GenerationOutput o, ITokenizer tokenizer)
    {
        var r = new GenerateResponse { Text = o.TextDelta };
        r.TokenIds.AddRange(o.TokenIds);
        if (o.Logprobs != null) r.Logprobs.AddRange(o.Logprobs.Select(l => ToProto(l, tokenizer)));
        if (o.Finish is not null) r.Finish = ToFinish(o);
        return r;
    }

    public static Finish ToFinish(GenerationOutput o)
    {
        var f = new Finish { Reason = o.Finish == Engine.Requests.FinishReason.Length ? GrpcApi.V1.FinishReason.Length : GrpcApi.V1.FinishReason.Stop };
        if (o.Usage is { } u)
            f.Usage = new Usage
            {
                PromptTokens = u.PromptTokens,
                CompletionTokens = u.CompletionTokens,
                TotalTokens = u.PromptTokens + u.CompletionTokens,
                CachedPromptTokens = u.CachedPromptTokens,
            };
        if (o.StopReason is string s) f.StopString = s;
        else if (o.StopReason is int id) f.StopTokenId = id;
        return f;
    }

    private static GrpcApi.V1.TokenLogprob ToProto(OutputLogprob l, ITokenizer tokenizer)
    {
        var p = new GrpcApi.V1.TokenLogprob { TokenId = l.TokenId, Logprob = l.Logprob, Rank = l.Rank, Token = TokenText(l.TokenId, tokenizer) };
        p.Top.AddRange(l.Top.Select(t => new TopLogprob { TokenId = t.TokenId, Logprob = t.Logprob, Token = TokenText(t.TokenId, tokenizer) }));
        return p;
    }

    private static string TokenText(int id, ITokenizer tokenizer) => tokenizer.Decode([id], skipSpecialTokens: false);
}
