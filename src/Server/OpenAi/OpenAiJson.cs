using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// How the API writes JSON: the source-generated <see cref="OpenAiJsonContext"/> with <see cref="MinimalJsonEscaping"/>,
/// and non-streaming bodies that end with a newline (as OpenAI's do, so `curl` output ends cleanly).
/// </summary>
public static class OpenAiJson
{
    /// <summary>Use this instead of <c>OpenAiJsonContext.Default</c>, whose encoder escapes <c>'</c> and <c>&lt;</c>.</summary>
    public static OpenAiJsonContext Context { get; } = new(new JsonSerializerOptions(OpenAiJsonContext.Default.Options)
    {
        Encoder = MinimalJsonEscaping.Instance,
    });

    private static readonly byte[] Newline = "\n"u8.ToArray();

    /// <summary>Writes a whole non-streaming body: <c>application/json</c>, the value, a newline.</summary>
    public static async Task WriteBodyAsync<T>(HttpResponse response, T value, JsonTypeInfo<T> type, CancellationToken ct = default)
    {
        response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(response.Body, value, type, ct);
        await response.Body.WriteAsync(Newline, ct);
    }

    /// <summary>A route handler's result that writes <see cref="WriteBodyAsync{T}"/> with a status code.</summary>
    public static IResult Result<T>(T value, JsonTypeInfo<T> type, int statusCode = 200) => new BodyResult<T>(value, type, statusCode);

    private sealed class BodyResult<T>(T value, JsonTypeInfo<T> type, int statusCode) : IResult
    {
        public Task ExecuteAsync(HttpContext ctx)
        {
            ctx.Response.StatusCode = statusCode;
            return WriteBodyAsync(ctx.Response, value, type, ctx.RequestAborted);
        }
    }
}
