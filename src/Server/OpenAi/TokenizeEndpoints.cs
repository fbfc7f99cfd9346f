using System.Text.Json;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.OpenAi;

/// <summary>vLLM's POST /tokenize and /detokenize.</summary>
public static class TokenizeEndpoints
{
    public static Task Tokenize(HttpContext ctx) => EndpointSupport.Handle(ctx, async j =>
    {
        var engine = ctx.RequestServices.GetRequiredService<IInferenceEngine>();
        EndpointSupport.CheckModel(j, ctx.RequestServices.GetRequiredService<ServerSettings>());
        IReadOnlyList<int> ids;
        if (j.Has("messages"))
        {
            ids = ChatPrompt.Encode(engine, j, j.Bool("add_generation_prompt") ?? true);
        }
        else
        {
            var prompt = j.String("prompt") ?? throw ApiException.BadRequest("prompt or messages is required.", "prompt");
            ids = engine.Tokenizer.Encode(prompt, addSpecialTokens: j.Bool("add_special_tokens") ?? true);
        }
        await OpenAiJson.WriteBodyAsync(ctx.Response, new TokenizeResponse([.. ids], ids.Count, engine.MaxModelLen), OpenAiJson.Context.TokenizeResponse, ctx.RequestAborted);
    });

    public static Task Detokenize(HttpContext ctx) => EndpointSupport.Handle(ctx, async j =>
    {
        var engine = ctx.RequestServices.GetRequiredService<IInferenceEngine>();
        EndpointSupport.CheckModel(j, ctx.RequestServices.GetRequiredService<ServerSettings>());
        if (!j.Has("tokens")) throw ApiException.BadRequest("tokens is required.", "tokens");
        var ids = SamplingParsing.ReadIntList(j, "tokens");
        int vocab = engine.Tokenizer.VocabSize;
        if (ids.Any(i => i < 0 || i >= vocab))
            throw ApiException.BadRequest($"Token ids must be in [0, {vocab}).", "tokens");
        string text = engine.Tokenizer.Decode(ids, skipSpecialTokens: false);
        await OpenAiJson.WriteBodyAsync(ctx.Response, new DetokenizeResponse(text), OpenAiJson.Context.DetokenizeResponse, ctx.RequestAborted);
    });
}
