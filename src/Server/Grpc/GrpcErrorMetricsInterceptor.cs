using Grpc.Core;
using Grpc.Core.Interceptors;
using InferenceServer.Server.Observability;

namespace InferenceServer.Server.Grpc;

/// <summary>Counts every gRPC call that ends with a non-OK status in <c>inference_grpc_errors_total{code}</c>.</summary>
public sealed class GrpcErrorMetricsInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (RpcException e)
        {
            ErrorMetrics.Record("grpc", e.StatusCode.ToString());
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (RpcException e)
        {
            ErrorMetrics.Record("grpc", e.StatusCode.ToString());
            throw;
        }
    }
}
