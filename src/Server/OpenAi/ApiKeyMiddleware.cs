using InferenceServer.Server.Security;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// With API keys set, REST requests need <c>Authorization: Bearer &lt;key&gt;</c> by <see cref="AccessControl"/>'s rule
/// (every route but the probes and descriptions their flags leave open); gRPC calls are checked by the gRPC gate (Grpc.GrpcGate).
/// </summary>
public static class ApiKeyMiddleware
{
    public static IApplicationBuilder UseOpenAiApiKey(this IApplicationBuilder app, AccessControl access)
    {
        if (!access.Enabled) return app;
        return app.Use(async (ctx, next) =>
        {
            if (!GrpcRequests.IsGrpc(ctx.Request) && !access.Allows(ctx.Request))
            {
                await ErrorResponses.Write(ctx, new ApiException(401, "Invalid or missing API key: send 'Authorization: Bearer <key>'.", type: "invalid_request_error", code: "invalid_api_key"));
                return;
            }
            await next(ctx);
        });
    }
}
