using System.Diagnostics;

namespace InferenceServer.Engine.Serving;

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

/// <summary>Stopwatch timestamps of a request's phases; only the engine thread writes them (after construction).</summary>
internal sealed class RequestTimestamps
{
    public DateTimeOffset ArrivalUtc { get; } = DateTimeOffset.UtcNow;
    public long Arrival { get; } = Stopwatch.GetTimestamp();
    public long FirstScheduled { get; private set; }
    public long FirstToken { get; private set; }
    public long LastToken { get; private set; }

    /// <summary>The request's trace context at submission (the HTTP request's span), so the engine's span is its child.</summary>
    public ActivityContext? Parent { get; } = Activity.Current?.Context;

    /// <summary>Only the first scheduling counts: a preempted request that is rescheduled keeps its queue time.</summary>
    public void Scheduled() { if (FirstScheduled == 0) FirstScheduled = Stopwatch.GetTimestamp(); }

    public void Token()
    {
        LastToken = Stopwatch.GetTimestamp();
        if (FirstToken == 0) FirstToken = LastToken;
    }

    public RequestMetrics ToMetrics(RequestState state, FinishReason reason)
    {
        long end = Stopwatch.GetTimestamp();
        var seq = state.Sequence;
        TimeSpan? Between(long a, long b) => a == 0 || b == 0 ? null : Stopwatch.GetElapsedTime(a, b);
        return new RequestMetrics(seq.Id, reason, seq.PromptLength, seq.OutputLength, seq.CachedPromptTokens, seq.Preemptions,
            ArrivalUtc, Stopwatch.GetElapsedTime(Arrival, end),
            Queue: Between(Arrival, FirstScheduled), Prefill: Between(FirstScheduled, FirstToken), Decode: Between(FirstToken, LastToken),
            Parent);
    }
}

/// <summary>Calls the observer so that a failing observer never takes the engine thread down.</summary>
internal static class EngineObserverCalls
{
    public static void Finished(IEngineObserver? o, RequestState state, FinishReason reason, Action<string> log)
    {
        if (o is null) return;
        try { o.OnRequestFinished(state.Times.ToMetrics(state, reason)); }
        catch (Exception e) { log($"engine observer failed: {e.Message}"); }
    }

    public static void Step(IEngineObserver? o, StepMetrics m, Action<string> log)
    {
        if (o is null) return;
        try { o.OnStep(m); }
        catch (Exception e) { log($"engine observer failed: {e.Message}"); }
    }
}
