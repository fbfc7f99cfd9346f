namespace InferenceServer.Engine.Requests;

/// <summary>
/// What the engine core sends a request after one step, before detokenization: the sampled token and the token-level
/// decision about it. The request side turns it into a <see cref="GenerationOutput"/> (text, stop strings).
/// </summary>
/// <param name="TokenId">The sampled token; null on a final output that carries none (the request could not go on).</param>
/// <param name="Finish">Set when the core ended the request on this token (EOS, a stop token id, max_tokens, the model length).</param>
/// <param name="StopReason">The stop token id when that ended it.</param>
/// <param name="StoppedOnToken">Ended by EOS or a stop token id: the token itself adds no text.</param>
/// <param name="OutputTokens">Output tokens so far, this one included.</param>
/// <param name="PromptLogprobs">With the first token of a request that asked for them: entry 0 is null.</param>
public sealed record CoreOutput(
    int? TokenId,
    OutputLogprob? Logprob,
    FinishReason? Finish,
    object? StopReason,
    bool StoppedOnToken,
    int OutputTokens,
    int CachedPromptTokens,
    IReadOnlyList<OutputLogprob?>? PromptLogprobs);
