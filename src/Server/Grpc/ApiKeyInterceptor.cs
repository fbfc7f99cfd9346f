using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Grpc;

/// <summary>
/// With --api-key set, InferenceService calls need the metadata <c>authorization: Bearer &lt;key&gt;</c>, the same rule
/// as the REST API. It is attached to InferenceService only, so health checks and reflection stay open to probes.
/// </summary>
public sealed class ApiKeyInterceptor(ServerSettings settings) : Interceptor
{
    private readonly byte[]? _expected = string.IsNullOrEmpty(settings.ApiKey) ? null : Encoding.UTF8.GetBytes("Bearer " + settings.ApiKey);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (_expected is null) return;
        byte[] given = Encoding.UTF8.GetBytes(context.RequestHeaders.GetValue("authorization") ?? "");
        // Constant-time compare so the key cannot be guessed byte by byte from response timing.
        if (!CryptographicOperations.FixedTimeEquals(given, _expected))
            throw new RpcException(new Status(StatusCode.Unauthenticated, "Invalid or missing API key: send metadata 'authorization: Bearer <key>'."));
    }
}
