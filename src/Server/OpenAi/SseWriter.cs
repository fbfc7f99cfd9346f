using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace InferenceServer.Server.OpenAi;

/// <summary>Server-Sent Events as OpenAI streams them: <c>data: {json}\n\n</c> per chunk, then <c>data: [DONE]\n\n</c>.</summary>
public sealed class SseWriter(HttpResponse response)
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Suffix = "\n\n"u8.ToArray();

    /// <summary>A started writer when the client asked for a stream, else null (one JSON response follows instead).</summary>
    public static SseWriter? StartIf(bool stream, HttpResponse response)
    {
        if (!stream) return null;
        var sse = new SseWriter(response);
        sse.Start();
        return sse;
    }

    public void Start()
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // Tell reverse proxies (nginx) not to buffer the stream.
        response.Headers["X-Accel-Buffering"] = "no";
    }

    public async Task WriteAsync<T>(T chunk, JsonTypeInfo<T> type, CancellationToken ct)
    {
        await response.Body.WriteAsync(Prefix, ct);
        await JsonSerializer.SerializeAsync(response.Body, chunk, type, ct);
        await response.Body.WriteAsync(Suffix, ct);
        await response.Body.FlushAsync(ct);
    }

    public async Task ErrorAsync(ApiException e, CancellationToken ct)
    {
        try
        {
            await WriteAsync(new ErrorEnvelope(new ErrorBody(e.Message, e.Type, e.Param, e.Code)), OpenAiJson.Context.ErrorEnvelope, ct);
            await DoneAsync(ct);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The client is gone too; nothing more to do.
        }
    }

    /// <summary>Ends a generation stream: the usage chunk when stream_options asked for it, then [DONE].</summary>
    public async Task FinishAsync<T>(T? usageChunk, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        if (usageChunk is not null) await WriteAsync(usageChunk, type, ct);
        await DoneAsync(ct);
    }

    public async Task DoneAsync(CancellationToken ct)
    {
        await response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), ct);
        await response.Body.FlushAsync(ct);
    }
}
