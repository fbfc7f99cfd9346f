using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.OpenAi;

/// <summary>What every JSON route shares: readiness, the body, the model name, and turning failures into error objects.</summary>
public static class EndpointSupport
{
    public static async Task Handle(HttpContext ctx, Func<RequestJson, Task> body)
    {
        try
        {
            var engine = ctx.RequestServices.GetRequiredService<IInferenceEngine>();
            if (!engine.IsReady)
                throw new ApiException(503, "The model is still loading; retry shortly.", type: "server_error", code: "service_unavailable");
            var (doc, json) = await RequestJson.ReadAsync(ctx.Request, ctx.RequestAborted);
            using (doc) await body(json);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the engine requests were aborted through the token. Nothing to answer.
        }
        catch (Exception e) when (GenerationRunner.Map(e) is ApiException api)
        {
            // A refused request is the client's mistake, not the server's: one debug line, no stack trace.
            var log = ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("InferenceServer.OpenAi");
            if (log.IsEnabled(LogLevel.Debug))
                log.LogDebug("{Method} {Path} refused with {Status}: {Message}", ctx.Request.Method, ctx.Request.Path, api.Status, api.Message);
            if (ctx.Response.HasStarted)
            {
                // Mid-stream the status line is gone; like vLLM, send the error object as a last event so clients see why.
                if (ctx.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
                    await new SseWriter(ctx.Response).ErrorAsync(api, ctx.RequestAborted);
                return;
            }
            if (api.Status == 429) ctx.Response.Headers.RetryAfter = "1";
            await ErrorResponses.Write(ctx, api);
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            // A bug, not a bad request: still answer with the error object so SDKs show a message, not a parse failure.
            ctx.RequestServices.GetRequiredService<ILogger<ApiException>>().LogError(e, "request failed");
            await ErrorResponses.Write(ctx, new ApiException(500, "Internal server error.", type: "server_error", code: "internal_error"));
        }
    }

    /// <summary>The served name to echo back; an unknown name is a 404 like OpenAI's model_not_found.</summary>
    public static string CheckModel(RequestJson j, ServerSettings settings)
    {
        var model = j.String("model");
        if (model is null) return settings.ModelName;
        if (!settings.ServedModelNames.Contains(model))
            throw new ApiException(404, $"The model '{model}' does not exist.", "model", code: "model_not_found");
        return model;
    }

    /// <summary>
    /// What the generation endpoints read first, in this order: the engine, the model name (404 when unknown), a
    /// warning for unknown fields, then stream / stream_options and the ignored user field.
    /// </summary>
    public static GenerationBasics Begin(HttpContext ctx, RequestJson j, IReadOnlySet<string> known)
    {
        var engine = ctx.RequestServices.GetRequiredService<IInferenceEngine>();
        string model = CheckModel(j, ctx.RequestServices.GetRequiredService<ServerSettings>());
        WarnUnknown(ctx, j, known);
        bool stream = j.Bool("stream") ?? false;
        bool includeUsage = StreamOptions.IncludeUsage(j, stream);
        _ = j.String("user");
        return new GenerationBasics(engine, model, stream, includeUsage);
    }

    public static void WarnUnknown(HttpContext ctx, RequestJson j, IReadOnlySet<string> known) =>
        j.WarnUnknown(known, ctx.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("InferenceServer.OpenAi"), ctx.Request.Path);

    public static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N");
}

/// <summary>The engine, the model name to echo, and the streaming choices of a generation request.</summary>
public sealed record GenerationBasics(IInferenceEngine Engine, string Model, bool Stream, bool IncludeUsage);
