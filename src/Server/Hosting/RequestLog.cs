using System.Diagnostics;
using InferenceServer.Server.Security;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// One information line per request that got past the door (API key, drain, admission), written when it ends:
/// <c>POST /v1/completions 200 12+16 tokens 431.2 ms</c> (method, route, status, prompt+completion tokens, time), in
/// the request's request_id scope. gRPC calls show their status name (<c>OK</c>, <c>InvalidArgument</c>). A response
/// the client left before its end says so. Probes and /metrics are logged at debug only; refused requests (401, 429,
/// 503 while draining) get no line: they are counted in /metrics instead, so a flood of refusals cannot flood the log.
/// </summary>
public static class RequestLog
{
    public const string Category = "InferenceServer.Requests";
    private const int MaxPathInLog = 160;

    public static void UseRequestLog(this IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        var logger = ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(Category);
        bool grpc = GrpcRequests.IsGrpc(ctx.Request);
        string path = ctx.Request.Path.Value ?? "/";
        var level = IsServiceRoute(path, grpc) ? LogLevel.Debug : LogLevel.Information;
        if (!logger.IsEnabled(level))
        {
            await next(ctx);
            return;
        }
        var tally = new RequestTally();
        RequestTally.Current = tally;
        long started = Stopwatch.GetTimestamp();
        try
        {
            await next(ctx);
        }
        finally
        {
            RequestTally.Current = null;
            string status = grpc ? GrpcStatus(ctx) : ctx.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (ctx.RequestAborted.IsCancellationRequested) status += " (client gone)";
            string route = ctx.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } raw } && !grpc ? "/" + raw.TrimStart('/')
                : path.Length <= MaxPathInLog ? path : path[..MaxPathInLog] + "…";
            logger.Log(level, "{Method} {Route} {Status} {PromptTokens}+{CompletionTokens} tokens {ElapsedMs:F1} ms",
                ctx.Request.Method, route, status, tally.PromptTokens, tally.CompletionTokens, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    });

    private static bool IsServiceRoute(string path, bool grpc) => grpc
        ? ServiceRoutes.IsGrpcHealth(path) || ServiceRoutes.IsGrpcReflection(path)
        : ServiceRoutes.Health.Contains(path, StringComparer.OrdinalIgnoreCase) || ServiceRoutes.Metrics.Contains(path, StringComparer.OrdinalIgnoreCase);

    /// <summary>The grpc-status trailer (or header, for a trailers-only response) as a StatusCode name.</summary>
    private static string GrpcStatus(HttpContext ctx)
    {
        string? s = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>()?.Trailers is { } t && t.TryGetValue("grpc-status", out var v) ? v.ToString() : null;
        if (string.IsNullOrEmpty(s) && ctx.Response.Headers.TryGetValue("grpc-status", out var h)) s = h.ToString();
        return int.TryParse(s, out int code) ? ((global::Grpc.Core.StatusCode)code).ToString() : "no status";
    }
}
