using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Scheduling;

/// <summary>A request the runner has not seen (admitted, or resumed after preemption): everything it needs once.</summary>
/// <param name="TokenIds">Prompt and output tokens so far (the last may be <see cref="Request.Placeholder"/>).</param>
/// <param name="BlockIds">Its whole block table.</param>
/// <param name="NumComputedTokens">Tokens already in the cache (a prefix-cache hit) before this step.</param>
/// <param name="PromptLogprobs">Top alternatives to return for each prompt token, or null (none, or already sent).</param>
public sealed record NewRequestData(string Id, IReadOnlyList<int> TokenIds, int PromptLength, SamplingParams Sampling,
    SequenceRandomState? Random, IReadOnlyList<int> BlockIds, int NumComputedTokens, int? PromptLogprobs);

/// <summary>A request the runner already holds: only what changed (blocks added since the last step).</summary>
public sealed record CachedRequestData(string Id, IReadOnlyList<int> NewBlockIds, int NumComputedTokens);

/// <summary>One request's share of the step: feed its tokens [NumComputed, NumComputed + NumTokens).</summary>
/// <param name="Samples">The step reaches the end of its tokens, so a new token is sampled.</param>
public readonly record struct ScheduledRequest(string Id, int NumTokens, bool Samples);

/// <summary>
/// What the scheduler decided for one step, as the executor needs it (vLLM v1's SchedulerOutput): the scheduled
/// requests in batch order, the new ones in full, the diffs of the running ones, and the requests to forget.
/// </summary>
/// <param name="DroppedRequestIds">Finished, aborted or preempted since the last step: the runner drops their state.</param>
public sealed record SchedulerOutput(
    IReadOnlyList<ScheduledRequest> Scheduled,
    IReadOnlyList<NewRequestData> NewRequests,
    IReadOnlyList<CachedRequestData> CachedRequests,
    IReadOnlyList<string> DroppedRequestIds,
    int NumPreempted)
{
    public int TotalTokens { get; } = Scheduled.Sum(s => s.NumTokens);
}
