using Grpc.AspNetCore.Server;
using Grpc.Core;
using InferenceServer.Server.Grpc;
using InferenceServer.Server.OpenAi;
using InferenceServer.Server.Security;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// Keeps the REST routes off the gRPC port (unless <c>--rest-on-grpc-port</c>): Kestrel routes every endpoint on every
/// port, so without this GET /health or POST /v1/completions over h2c on the gRPC port would be served there too. The
/// gRPC port is the HTTP/2-only listener (the REST port speaks HTTP/1.1 only), so an HTTP/2 request came through it:
/// a non-gRPC request there is 404, a gRPC call that routed to a REST endpoint is UNIMPLEMENTED.
/// </summary>
public static class GrpcPortOnly
{
    public static IApplicationBuilder UseGrpcPortOnlyGrpc(this IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        if (!HttpProtocol.IsHttp2(ctx.Request.Protocol))
        {
            await next(ctx);
            return;
        }
        if (!GrpcRequests.IsGrpc(ctx.Request))
        {
            string path = ctx.Request.PathBase.Add(ctx.Request.Path).Value is { Length: > 0 } p ? p : "/";
            await ErrorResponses.Write(ctx, new ApiException(404,
                $"Unknown request URL: {ctx.Request.Method} {path}. This is the gRPC port; the REST API is on --port.", code: "unknown_url"));
            return;
        }
        if (ctx.GetEndpoint() is { } endpoint && endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is null)
        {
            GrpcGate.WriteStatus(ctx, StatusCode.Unimplemented, $"No gRPC method at {ctx.Request.Path}.");
            return;
        }
        await next(ctx);
    });
}
