using System.Globalization;
using System.Text.Json;
using InferenceServer.Engine.Sampling;

namespace InferenceServer.Server.OpenAi;

/// <summary>Maps the OpenAI / vLLM sampling fields shared by both completion routes onto <see cref="SamplingParams"/>.</summary>
public static class SamplingParsing
{
    /// <summary>Upper bound on n: each choice is a separate engine request, so an unbounded n is a cheap denial of service.</summary>
    public const int MaxN = 16;

    /// <summary>
    /// Upper bound on stop strings. OpenAI allows 4, vLLM has no limit; every string is matched against the text after
    /// each token, so an unbounded list costs every step. 32 leaves room for vLLM clients that send several.
    /// </summary>
    public const int MaxStop = 32;

    public static int ReadN(RequestJson j)
    {
        int n = j.Int("n") ?? 1;
        if (n < 1 || n > MaxN) throw ApiException.BadRequest($"n must be between 1 and {MaxN}, got {n}.", "n");
        return n;
    }

    /// <summary>Choice i of n: vLLM gives the i-th copy of a seeded request seed + i, so the choices differ but stay reproducible.</summary>
    public static SamplingParams ForChoice(SamplingParams sampling, int i) =>
        sampling.Seed is long seed && i > 0 ? sampling with { Seed = seed + i } : sampling;

    /// <param name="maxTokensField">"max_tokens" for completions; chat also reads "max_completion_tokens" first.</param>
    public static SamplingParams Read(RequestJson j, int? logprobs, bool chat)
    {
        int? maxTokens = chat ? j.Int("max_completion_tokens") ?? j.Int("max_tokens") : j.Int("max_tokens");
        string maxName = chat && j.Has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        if (maxTokens is < 1) throw ApiException.BadRequest($"{maxName} must be at least 1, got {maxTokens}.", maxName);
        return new SamplingParams
        {
            Temperature = j.Float("temperature") ?? 1f,
            TopP = j.Float("top_p") ?? 1f,
            TopK = j.Int("top_k") ?? 0,
            MinP = j.Float("min_p") ?? 0f,
            PresencePenalty = j.Float("presence_penalty") ?? 0f,
            FrequencyPenalty = j.Float("frequency_penalty") ?? 0f,
            RepetitionPenalty = j.Float("repetition_penalty") ?? 1f,
            LogitBias = ReadLogitBias(j),
            Seed = j.Long("seed"),
            MaxTokens = maxTokens,
            MinTokens = j.Int("min_tokens") ?? 0,
            Stop = ReadStop(j),
            StopTokenIds = ReadIntList(j, "stop_token_ids"),
            IgnoreEos = j.Bool("ignore_eos") ?? false,
            SkipSpecialTokens = j.Bool("skip_special_tokens") ?? true,
            Logprobs = logprobs,
        };
    }

    private static IReadOnlyList<string> ReadStop(RequestJson j)
    {
        if (j.Get("stop") is not { } v) return [];
        if (v.ValueKind == JsonValueKind.String) return [v.GetString()!];
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            if (v.GetArrayLength() > MaxStop)
                throw ApiException.BadRequest($"stop may hold at most {MaxStop} strings, got {v.GetArrayLength()}.", "stop");
            return v.EnumerateArray().Select(e => e.GetString()!).ToList();
        }
        throw RequestJson.TypeError("stop", "a string or a list of strings");
    }

    public static IReadOnlyList<int> ReadIntList(RequestJson j, string name)
    {
        if (j.Get(name) is not { } v) return [];
        if (v.ValueKind != JsonValueKind.Array) throw RequestJson.TypeError(name, "a list of integers");
        var list = new List<int>();
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int i)) throw RequestJson.TypeError(name, "a list of integers");
            list.Add(i);
        }
        return list;
    }

    /// <summary>OpenAI sends token ids as string keys. Out-of-range values are refused (OpenAI does so) rather than clamped.</summary>
    private static IReadOnlyDictionary<int, float>? ReadLogitBias(RequestJson j)
    {
        if (j.Get("logit_bias") is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Object) throw RequestJson.TypeError("logit_bias", "an object mapping token ids to numbers");
        var bias = new Dictionary<int, float>();
        foreach (var p in v.EnumerateObject())
        {
            if (!int.TryParse(p.Name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int id))
                throw ApiException.BadRequest($"logit_bias key '{p.Name}' is not a token id.", "logit_bias");
            if (p.Value.ValueKind != JsonValueKind.Number) throw RequestJson.TypeError("logit_bias", "an object mapping token ids to numbers");
            double value = p.Value.GetDouble();
            if (value < -SamplingParams.MaxAbsLogitBias || value > SamplingParams.MaxAbsLogitBias)
                throw ApiException.BadRequest($"logit_bias value {value} for token {id} is outside [-100, 100].", "logit_bias");
            bias[id] = (float)value;
        }
        return bias;
    }
}
