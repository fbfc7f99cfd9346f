namespace InferenceServer.Server.Security;

public static class GrpcRequests
{
    /// <summary>A gRPC call (content type application/grpc, with or without a +proto suffix) rather than a REST request.</summary>
    public static bool IsGrpc(HttpRequest request) =>
        request.ContentType is { } t && t.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);
}
