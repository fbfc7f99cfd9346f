using System.Diagnostics;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;

namespace InferenceServer.Server.Observability;

/// <summary>
/// The server's <see cref="IEngineObserver"/>: metrics, one trace span per engine request (with queue, prefill and
/// decode child spans placed at their measured times), and one debug line per finished engine request.
/// </summary>
public sealed class EngineTelemetry(EngineMetrics metrics, ILogger logger) : IEngineObserver
{
    public static readonly ActivitySource Source = new(MetricNames.Meter);

    public EngineMetrics Metrics => metrics;

    public void OnStep(StepMetrics m) => metrics.Step(m);

    public void OnRequestFinished(RequestMetrics m)
    {
        metrics.RequestFinished(m);
        Trace(m);
        // Debug: the per-request information line is the HTTP/gRPC one (Hosting.RequestLog), one per API call.
        logger.LogDebug("request {RequestId} finished: {FinishReason}, {PromptTokens} prompt + {GenerationTokens} generated tokens, " +
            "e2e {E2eMs:F1} ms, ttft {TtftMs:F1} ms, queue {QueueMs:F1} ms",
            m.RequestId, m.Reason, m.PromptTokens, m.GenerationTokens, m.E2e.TotalMilliseconds,
            m.TimeToFirstToken?.TotalMilliseconds, m.Queue?.TotalMilliseconds);
    }

    /// <summary>The span is made after the fact (the engine thread measured the times), so start and end are set explicitly.</summary>
    private static void Trace(RequestMetrics m)
    {
        if (!Source.HasListeners()) return;
        var start = m.ArrivalUtc;
        using var span = Source.StartActivity("llm.generate", ActivityKind.Internal, m.Parent ?? default, startTime: start);
        if (span is null) return;
        span.SetTag("gen_ai.request.id", m.RequestId);
        span.SetTag("gen_ai.usage.input_tokens", m.PromptTokens);
        span.SetTag("gen_ai.usage.output_tokens", m.GenerationTokens);
        span.SetTag("gen_ai.response.finish_reasons", m.Reason.ToString().ToLowerInvariant());
        span.SetTag("inference.cached_prompt_tokens", m.CachedPromptTokens);
        span.SetTag("inference.preemptions", m.Preemptions);
        var t = start;
        Phase(span, "queued", ref t, m.Queue);
        Phase(span, "prefill", ref t, m.Prefill);
        Phase(span, "decode", ref t, m.Decode);
        span.SetEndTime((start + m.E2e).UtcDateTime);
    }

    private static void Phase(Activity parent, string name, ref DateTimeOffset t, TimeSpan? duration)
    {
        if (duration is not { } d) return;
        using var child = Source.StartActivity(name, ActivityKind.Internal, parent.Context, startTime: t);
        child?.SetEndTime((t + d).UtcDateTime);
        t += d;
    }
}
