using System.Net;
using System.Text.Json.Serialization;
using System.Text.Json;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Grpc;
using InferenceServer.Server.Loading;
using InferenceServer.Server.Observability;
using InferenceServer.Server.OpenAi;
using InferenceServer.Server.Security;
using InferenceServer.Server.Settings;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace InferenceServer.Server.Hosting;

/// <summary>Builds and runs the web host: Kestrel on the REST port (HTTP/1.1) and the gRPC port (HTTP/2).</summary>
public static class ServerHost
{
    /// <summary>
    /// Listens first, then loads (<see cref="LoadingServer"/>): probes answer during the whole load. A load that fails
    /// stops the host and rethrows, so <c>serve</c> reports it as before; a shutdown during the load exits at once (0).
    /// </summary>
    public static int Run(Func<LoadedModel> load, EngineOptions engineOptions, ServerSettings settings)
    {
        var server = LoadingServer.StartAsync(load, engineOptions, settings, Console.WriteLine).GetAwaiter().GetResult();
        try
        {
            var app = server.App;
            Console.WriteLine($"listening on http://{settings.Host}:{settings.Port} and gRPC {settings.Host}:{settings.GrpcPort} while the model loads (/health 200, /ready 503 until ready)");
            try
            {
                server.Ready.Wait(app.Lifetime.ApplicationStopping);
            }
            catch (OperationCanceledException)
            {
                Console.WriteLine("shutdown requested while the model was loading; exiting");
                app.WaitForShutdown();
                ImmediateExit.Exit(0);   // the load thread is still in libtorch: no exit handlers under it
                return 0;
            }
            catch (AggregateException e) when (e.InnerExceptions.Count == 1)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
            }
            Console.WriteLine($"serving {settings.ModelName} on http://{settings.Host}:{settings.Port} (OpenAI API at /v1, docs at /docs), gRPC on {settings.Host}:{settings.GrpcPort}"
                + (settings.ApiKeys.Count > 0 ? $"; API key required ({settings.ApiKeys.Count} accepted)" : ""));
            app.WaitForShutdown();
            return 0;
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <param name="configure">Last changes to the builder before it builds (tests add a log capture here).</param>
    public static WebApplication Build(IInferenceEngine engine, ServerSettings settings, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        builder.WebHost.ConfigureKestrel(k =>
        {
            var address = settings.Host is "0.0.0.0" or "*" ? IPAddress.Any : IPAddress.Parse(settings.Host == "localhost" ? "127.0.0.1" : settings.Host);
            // Cleartext HTTP/2 needs prior knowledge, which REST clients do not use; HTTP/1.1 only avoids a startup warning.
            k.Listen(address, settings.Port, o => o.Protocols = HttpProtocols.Http1);
            // gRPC gets its own cleartext port: h2c needs HTTP/2 without ALPN, so that port speaks HTTP/2 only.
            k.Listen(address, settings.GrpcPort, o => o.Protocols = HttpProtocols.Http2);
            k.Limits.MaxRequestBodySize = settings.MaxRequestBodyBytes;
        });
        // Graceful shutdown (--shutdown-timeout): the front ends see the engine through DrainingEngine, whose streams end
        // at the drain deadline with an error the SSE and gRPC paths report; the host allows a little more to write it.
        var drain = new ShutdownDrain(settings.ShutdownTimeout);
        builder.Services.AddSingleton(drain);
        builder.Services.AddSingleton<IInferenceEngine>(new DrainingEngine(engine, drain));
        builder.Services.AddHostedService<ShutdownDrainService>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout + ShutdownDrain.FinalWriteGrace);
        builder.Services.AddSingleton(settings);
        // The OpenAPI document takes its schemas from these options: the API speaks snake_case, and numbers given as
        // strings are refused (RequestJson), so the web default of reading numbers from strings would misdocument it.
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        builder.Services.AddOpenApi(o =>
        {
            // Schema names without the C# suffixes that only say "documentation type" or "wire type".
            o.CreateSchemaReferenceId = t => OpenApiOptions.CreateDefaultSchemaReferenceId(t) is { } id
                && (id.EndsWith("Doc", StringComparison.Ordinal) || id.EndsWith("Dto", StringComparison.Ordinal)) ? id[..^3] : OpenApiOptions.CreateDefaultSchemaReferenceId(t);
            o.AddDocumentTransformer((doc, _, _) =>
            {
                doc.Info.Title = "InferenceServer OpenAI-compatible API";
                doc.Info.Description = $"Serving {settings.ModelName}. Errors are OpenAI error objects: {{\"error\": {{\"message\", \"type\", \"param\", \"code\"}}}}.";
                return Task.CompletedTask;
            });
        });
        builder.Services.AddInferenceGrpc(engine, () => drain.IsStopping);
        builder.AddInferenceObservability();
        ConfigureLogging(builder.Logging, settings.LogLevel);
        if (settings.AllowedOrigins.Count > 0) builder.Services.AddCors(o => o.AddDefaultPolicy(p => CorsPolicy(p, settings)));
        var admission = new AdmissionControl(settings, engine);
        builder.Services.AddSingleton(admission);
        // The gRPC health publisher runs the readiness check every 30 s and logs "Unhealthy" at error level; while the
        // model loads (or drains) that is the expected state, already visible at /ready and gRPC health.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", LogLevel.Critical);
        configure?.Invoke(builder);
        var app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(admission.Dispose);
        app.UseInferenceObservability(engine);
        if (settings.AllowedOrigins.Count > 0) app.UseCors(); // preflight answered before the key check, as browsers send no key there
        if (!settings.RestOnGrpcPort) app.UseGrpcPortOnlyGrpc(); // REST routes answer 404 on the gRPC port
        var access = new AccessControl(settings); // one API-key rule for REST and gRPC
        app.UseGrpcGate(access); // gRPC status counter, API key and message checks before the runtime parses a message
        drain.Use(app); // after shutdown starts: 503 / UNAVAILABLE for new requests
        app.UseOpenAiApiKey(access);
        admission.Use(app, access.Enabled); // per-client and server-wide concurrency limits: 429 at the door
        app.UseRequestLog(); // one line per request that got this far
        app.UseOpenAiRouteErrors();
        app.MapOpenApi(); // GET /openapi/v1.json
        app.MapApiDocsPage(); // GET /docs
        app.MapGet("/health", () => Results.Ok())
            .WithName("health").WithSummary("200 while the process is up (liveness).").WithTags("Probes").Produces(200);
        app.MapGet("/ready", (IInferenceEngine e) => e.IsReady ? Results.Ok() : Results.StatusCode(503))
            .WithName("ready").WithSummary("200 once the model is loaded and warmed up, 503 before (readiness).").WithTags("Probes")
            .Produces(200).Produces(503);
        app.MapOpenAiApi();
        app.MapInferenceGrpc();
        return app;
    }

    /// <summary>
    /// <c>--log-level</c> for the server's own categories; ASP.NET Core's per-request lines (request starting,
    /// executing endpoint) only at warning and above unless debug or trace is asked for, since <see cref="RequestLog"/>
    /// already writes one line per request. Configuration (Logging:LogLevel:*) still overrides both.
    /// </summary>
    private static void ConfigureLogging(ILoggingBuilder logging, LogLevel level)
    {
        logging.SetMinimumLevel(level);
        var framework = level <= LogLevel.Debug ? level : (LogLevel)Math.Max((int)level, (int)LogLevel.Warning);
        logging.AddFilter("Microsoft.AspNetCore", framework);
        logging.AddFilter("Grpc", framework);
    }

    /// <summary>CORS (vLLM's --allowed-origins, --allowed-methods, --allowed-headers, --allow-credentials); "*" means any.</summary>
    private static void CorsPolicy(Microsoft.AspNetCore.Cors.Infrastructure.CorsPolicyBuilder p, ServerSettings s)
    {
        if (s.AllowedOrigins.Contains("*")) p.AllowAnyOrigin();
        else p.WithOrigins([.. s.AllowedOrigins]);
        if (s.AllowedMethods.Contains("*")) p.AllowAnyMethod();
        else p.WithMethods([.. s.AllowedMethods]);
        if (s.AllowedHeaders.Contains("*")) p.AllowAnyHeader();
        else p.WithHeaders([.. s.AllowedHeaders]);
        if (s.AllowCredentials) p.AllowCredentials();
        p.WithExposedHeaders("Retry-After", "X-Request-Id");
    }
}
