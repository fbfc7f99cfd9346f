using System.Security.Cryptography;
using System.Text;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.OpenAi;

/// <summary>With --api-key set, every /v1 request needs <c>Authorization: Bearer &lt;key&gt;</c> (vLLM's rule).</summary>
public static class ApiKeyMiddleware
{
    public static IApplicationBuilder UseOpenAiApiKey(this IApplicationBuilder app, ServerSettings settings)
    {
        if (string.IsNullOrEmpty(settings.ApiKey)) return app;
        byte[] expected = Encoding.UTF8.GetBytes("Bearer " + settings.ApiKey);
        return app.Use(async (ctx, next) =>
        {
            if (ctx.Request.Path.StartsWithSegments("/v1"))
            {
                byte[] given = Encoding.UTF8.GetBytes(ctx.Request.Headers.Authorization.ToString());
                // Constant-time compare so the key cannot be guessed byte by byte from response timing.
                if (!CryptographicOperations.FixedTimeEquals(given, expected))
                {
                    await ErrorResponses.Write(ctx, new ApiException(401, "Invalid or missing API key.", type: "invalid_request_error", code: "invalid_api_key"));
                    return;
                }
            }
            await next(ctx);
        });
    }
}
