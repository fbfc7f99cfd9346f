using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.OpenAi;

/// <summary>The OpenAI-compatible routes under /v1 and vLLM's /tokenize and /detokenize, with their OpenAPI metadata.</summary>
public static class OpenAiEndpoints
{
    private const string Json = "application/json";
    private const string Sse = "text/event-stream";

    /// <summary>
    /// Accepts metadata is also a routing constraint: listing only application/json would make routing answer a
    /// curl -d request (form content type) or one without Content-Type with a bare 415. The body is read as JSON
    /// whatever its declared type, so the document says so.
    /// </summary>
    private static readonly string[] AnyBody = ["*/*"];

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").WithTags("OpenAI");
        v1.MapGet("/models", (IInferenceEngine engine, ServerSettings s) => OpenAiJson.Result(
                new ModelListDto("list", s.ServedModelNames.Select(n => new ModelDto(n, "model", 0, "inference-server", engine.MaxModelLen, ParallelDto.From(engine.Parallel))).ToList()),
                OpenAiJson.Context.ModelListDto))
            .WithName("listModels").WithSummary("Lists the served model names.")
            .Produces<ModelListDto>(200, Json);
        // The handlers take the raw HttpContext (they parse the JSON themselves), so they are passed as Func<> rather
        // than RequestDelegate: only a route handler delegate carries the metadata that the OpenAPI document reads.
        Documented(v1.MapPost("/completions", (Func<HttpContext, Task>)CompletionsEndpoint.Handle), "createCompletion",
                "Legacy text completion (OpenAI), with vLLM's sampling extras; stream=true answers with server-sent events.")
            .Accepts<CompletionRequestDoc>(Json, AnyBody)
            .Produces<CompletionResponse>(200, Json, Sse);
        Documented(v1.MapPost("/chat/completions", (Func<HttpContext, Task>)ChatCompletionsEndpoint.Handle), "createChatCompletion",
                "Chat completion through the model's chat template; stream=true answers with server-sent chat.completion.chunk events.")
            .Accepts<ChatCompletionRequestDoc>(Json, AnyBody)
            .Produces<ChatCompletionResponse>(200, Json, Sse);
        Documented(app.MapPost("/tokenize", (Func<HttpContext, Task>)TokenizeEndpoints.Tokenize), "tokenize",
                "Token ids of a prompt, or of chat messages rendered through the template (vLLM).")
            .WithTags("vLLM").Accepts<TokenizeRequestDoc>(Json, AnyBody)
            .Produces<TokenizeResponse>(200, Json);
        Documented(app.MapPost("/detokenize", (Func<HttpContext, Task>)TokenizeEndpoints.Detokenize), "detokenize",
                "Text of a list of token ids (vLLM).")
            .WithTags("vLLM").Accepts<DetokenizeRequestDoc>(Json, AnyBody)
            .Produces<DetokenizeResponse>(200, Json);
        return app;
    }

    /// <summary>Name, summary and the error responses every JSON route can give, as OpenAI error objects.</summary>
    private static RouteHandlerBuilder Documented(RouteHandlerBuilder b, string name, string summary) =>
        b.WithName(name).WithSummary(summary)
            .Produces<ErrorEnvelope>(400, Json)
            .Produces<ErrorEnvelope>(401, Json)
            .Produces<ErrorEnvelope>(404, Json)
            .Produces<ErrorEnvelope>(413, Json)
            .Produces<ErrorEnvelope>(429, Json)
            .Produces<ErrorEnvelope>(503, Json);
}
