using System.Text.Json;

namespace InferenceServer.Server.OpenAi;

public static class StreamOptions
{
    /// <summary>stream_options.include_usage; OpenAI refuses stream_options without stream.</summary>
    public static bool IncludeUsage(RequestJson j, bool stream)
    {
        if (j.Get("stream_options") is not { } o) return false;
        if (o.ValueKind != JsonValueKind.Object) throw RequestJson.TypeError("stream_options", "an object");
        if (!stream) throw ApiException.BadRequest("stream_options is only allowed when stream is true.", "stream_options");
        return new RequestJson(o).Bool("include_usage") ?? false;
    }
}
