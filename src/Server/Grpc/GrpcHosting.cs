using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InferenceServer.Server.Grpc;

/// <summary>Registers and maps the gRPC services, so ServerHost only needs two calls.</summary>
public static class GrpcHosting
{
    /// <summary>The service name that grpc.health.v1.Health also answers for (besides "", the whole server).</summary>
    public const string ServiceName = "inference.v1.InferenceService";

    /// <param name="stopping">True once shutdown has started; health then reports NOT_SERVING, as /ready answers 503.</param>
    /// <remarks>
    /// The API key check and the error counter are HTTP middleware (<see cref="GrpcGate"/>), not interceptors:
    /// interceptors run only after the request message has been parsed, too late for both.
    /// </remarks>
    public static IServiceCollection AddInferenceGrpc(this IServiceCollection services, IInferenceEngine engine, Func<bool>? stopping = null)
    {
        services.AddGrpc();
        services.AddGrpcReflection();
        // Health follows readiness: NOT_SERVING while the model loads and warms up, SERVING after, NOT_SERVING again
        // once shutdown starts.
        services.AddGrpcHealthChecks(o =>
            {
                o.Services.Map("", _ => true);
                o.Services.Map(ServiceName, _ => true);
            })
            .AddCheck("engine", () => stopping?.Invoke() == true ? HealthCheckResult.Unhealthy("shutting down")
                : engine.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("model loading"));
        return services;
    }

    public static IEndpointRouteBuilder MapInferenceGrpc(this IEndpointRouteBuilder app)
    {
        app.MapGrpcService<InferenceGrpcService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }
}
