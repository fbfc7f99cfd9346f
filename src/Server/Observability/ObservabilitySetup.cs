using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace InferenceServer.Server.Observability;

/// <summary>Wires metrics (/metrics, Prometheus text), traces (OTLP when configured) and request-id log scopes.</summary>
public static class ObservabilitySetup
{
    public const string RequestIdHeader = "X-Request-Id";

    public static void AddInferenceObservability(this WebApplicationBuilder builder)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME") ?? "inference-server"))
            .WithMetrics(m => m.AddMeter(MetricNames.Meter)
                // No response cache: a scrape right after a request must see it (tests, and dashboards are not hurt).
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        // Traces only leave the process when an OTLP endpoint is configured (the standard variable); without it
        // no tracer provider listens and the engine skips building spans.
        if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")))
            otel.WithTracing(t => t.AddSource(MetricNames.Meter, "Microsoft.AspNetCore").AddOtlpExporter());
    }

    /// <summary>
    /// Attaches the engine observer (once per engine: several hosts may share one engine in tests), maps /metrics,
    /// and adds the middleware that counts error responses and opens a request_id log scope.
    /// </summary>
    public static void UseInferenceObservability(this WebApplication app, IInferenceEngine engine)
    {
        if (engine.Observer is null)
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InferenceServer.Engine");
            var model = app.Services.GetRequiredService<ServerSettings>().ModelName;
            engine.Observer = new EngineTelemetry(new EngineMetrics(engine, model), logger);
        }
        // Once this host's meter provider listens (hosted services have started), every known error code and finish
        // reason gets its series at 0.
        var telemetry = engine.Observer as EngineTelemetry;
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            ErrorMetrics.SeedZeros();
            telemetry?.Metrics.SeedZeros();
        });
        app.Use(async (ctx, next) =>
        {
            string id = ctx.Request.Headers[RequestIdHeader] is { Count: > 0 } h && h[0]!.Length is > 0 and <= 128 ? h[0]! : ctx.TraceIdentifier;
            ctx.Response.Headers[RequestIdHeader] = id;
            var logger = ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("InferenceServer.Http");
            using (logger.BeginScope(new Dictionary<string, object> { ["request_id"] = id }))
            {
                try
                {
                    await next(ctx);
                }
                catch when (!ctx.Response.HasStarted)
                {
                    // Kestrel turns an escaped exception into a 500; count it as one.
                    ErrorMetrics.RecordHttp(500);
                    throw;
                }
            }
            if (ctx.Response.StatusCode >= 400) ErrorMetrics.RecordHttp(ctx.Response.StatusCode);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
    }
}
