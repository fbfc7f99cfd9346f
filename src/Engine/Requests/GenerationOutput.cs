using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Requests;

/// <summary>Why a sequence ended, with OpenAI's spelling: "stop" (EOS, a stop string or stop token) or "length".</summary>
public enum FinishReason
{
    Stop,
    Length,
    /// <summary>The client went away or the request was cancelled; never sent to a client.</summary>
    Abort,
}

/// <summary>A token's log-probability under the model, its rank, and the most likely alternatives.</summary>
public sealed record OutputLogprob(int TokenId, float Logprob, int Rank, IReadOnlyList<TokenLogprob> Top);

/// <summary>What one engine step produced for one request; a stream of these ends with one whose Finish is set.</summary>
/// <param name="TokenIds">New output token ids (one per step in the usual case; none on a final-only event).</param>
/// <param name="TextDelta">New text; never ends in half a UTF-8 character, and never includes a stop string.</param>
/// <param name="Logprobs">One entry per new token when logprobs were asked for.</param>
public sealed record GenerationOutput(
    IReadOnlyList<int> TokenIds,
    string TextDelta,
    IReadOnlyList<OutputLogprob>? Logprobs,
    FinishReason? Finish = null,
    GenerationUsage? Usage = null)
{
    /// <summary>For requests that asked for prompt logprobs: set on the first output, entry 0 is null (no prediction).</summary>
    public IReadOnlyList<OutputLogprob?>? PromptLogprobs { get; init; }

    /// <summary>When Finish is Stop because of a stop string or stop token id: which one.</summary>
    public object? StopReason { get; init; }
}

/// <param name="CachedPromptTokens">Prompt tokens served from the prefix cache.</param>
public sealed record GenerationUsage(int PromptTokens, int CompletionTokens, int CachedPromptTokens);
