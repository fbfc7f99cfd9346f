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

    public static IServiceCollection AddInferenceGrpc(this IServiceCollection services, IInferenceEngine engine)
    {
        services.AddGrpc(o => o.Interceptors.Add<GrpcErrorMetricsInterceptor>())
            .AddServiceOptions<InferenceGrpcService>(o => o.Interceptors.Add<ApiKeyInterceptor>());
        services.AddGrpcReflection();
        // Health follows readiness: NOT_SERVING while the model loads and warms up, SERVING after.
        services.AddGrpcHealthChecks(o =>
            {
                o.Services.Map("", _ => true);
                o.Services.Map(ServiceName, _ => true);
            })
            .AddCheck("engine", () => engine.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("model loading"));
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
