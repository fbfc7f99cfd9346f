using System.Diagnostics;
using InferenceServer.Engine.Requests;

namespace InferenceServer.Engine.Metrics;

/// <summary>Stopwatch timestamps of a request's phases; only the engine thread writes them (after construction).</summary>
public sealed class RequestTimestamps
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

    public RequestMetrics ToMetrics(string id, FinishReason reason, int promptTokens, int outputTokens, int cachedPromptTokens, int preemptions)
    {
        long end = Stopwatch.GetTimestamp();
        TimeSpan? Between(long a, long b) => a == 0 || b == 0 ? null : Stopwatch.GetElapsedTime(a, b);
        return new RequestMetrics(id, reason, promptTokens, outputTokens, cachedPromptTokens, preemptions,
            ArrivalUtc, Stopwatch.GetElapsedTime(Arrival, end),
            Queue: Between(Arrival, FirstScheduled), Prefill: Between(FirstScheduled, FirstToken), Decode: Between(FirstToken, LastToken),
            Parent);
    }
}
