namespace InferenceServer.Server.Security;

/// <summary>
/// The routes that serve no model: probes, metrics and API descriptions over REST, health and reflection over gRPC.
/// Access control leaves them open by default; the shutdown drain keeps probes and gRPC service routes answering.
/// </summary>
public static class ServiceRoutes
{
    /// <summary>GET /health and /ready (closed by --protect-health).</summary>
    public static readonly string[] Health = ["/health", "/ready"];

    /// <summary>GET /metrics and the API description (closed by --protect-metrics).</summary>
    public static readonly string[] Metrics = ["/metrics", "/openapi/v1.json", "/docs"];

    private static readonly string[] GrpcReflection = ["/grpc.reflection.v1alpha.ServerReflection/", "/grpc.reflection.v1.ServerReflection/"];

    public static bool IsGrpcHealth(string path) => path.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal);

    public static bool IsGrpcReflection(string path) => GrpcReflection.Any(p => path.StartsWith(p, StringComparison.Ordinal));
}
