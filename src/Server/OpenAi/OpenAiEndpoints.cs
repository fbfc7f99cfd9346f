using InferenceServer.Engine.Serving;
using InferenceServer.Server.Hosting;

namespace InferenceServer.Server.OpenAi;

/// <summary>The OpenAI-compatible routes under /v1.</summary>
public static class OpenAiEndpoints
{
    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/models", (IInferenceEngine engine, ServerSettings s) => Results.Json(new
        {
            @object = "list",
            data = s.ServedModelNames.Select(n => new { id = n, @object = "model", created = 0, owned_by = "inference-server", max_model_len = engine.MaxModelLen }),
        }));
        v1.MapPost("/completions", CompletionsEndpoint.Handle);
        v1.MapPost("/chat/completions", ChatCompletionsEndpoint.Handle);
        app.MapPost("/tokenize", TokenizeEndpoints.Tokenize);
        app.MapPost("/detokenize", TokenizeEndpoints.Detokenize);
        return app;
    }
}
