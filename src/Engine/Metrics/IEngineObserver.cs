using System.Diagnostics;
using InferenceServer.Engine.Requests;

namespace InferenceServer.Engine.Metrics;

/// <summary>
/// Receives per-request and per-step measurements from the engine thread (metrics, traces, logs live in the
/// server). Calls come from the engine thread, so implementations must be quick and must not block.
/// </summary>
public interface IEngineObserver
{
    void OnRequestFinished(RequestMetrics metrics);

    void OnStep(StepMetrics metrics);
}

/// <summary>One engine step: tokens fed to the model, sequences in the batch, sequences preempted to make room.</summary>
public readonly record struct StepMetrics(int BatchTokens, int Sequences, int Preempted);

/// <summary>
/// Timings of one finished request, measured on the engine's clock (<see cref="Stopwatch"/>). A phase the request
/// never reached (e.g. aborted while queued) has a null duration.
/// </summary>
public sealed record RequestMetrics(
    string RequestId,
    FinishReason Reason,
    int PromptTokens,
    int GenerationTokens,
    int CachedPromptTokens,
    int Preemptions,
    DateTimeOffset ArrivalUtc,
    TimeSpan E2e,
    TimeSpan? Queue,
    TimeSpan? Prefill,
    TimeSpan? Decode,
    ActivityContext? Parent)
{
    /// <summary>Arrival to first token (vLLM's time_to_first_token): queue + prefill.</summary>
    public TimeSpan? TimeToFirstToken => Queue + Prefill;

    /// <summary>Mean time between output tokens after the first (vLLM's time_per_output_token); null with fewer than two tokens.</summary>
    public TimeSpan? TimePerOutputToken => GenerationTokens > 1 && Decode is { } d ? d / (GenerationTokens - 1) : null;
}
