using System.Text.Json.Serialization;

namespace InferenceServer.Server.OpenAi;

/// <summary>A request the API refuses; endpoints throw it and <see cref="ErrorResponses"/> turns it into OpenAI's error object.</summary>
public sealed class ApiException(int status, string message, string? param = null, string type = "invalid_request_error", string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string Type { get; } = type;
    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, param);
}

public sealed record ErrorBody(string Message, string Type, string? Param, string? Code);

public sealed record ErrorEnvelope(ErrorBody Error);

/// <summary>Writes <c>{"error": {"message", "type", "param", "code"}}</c>, the shape the OpenAI SDKs parse.</summary>
public static class ErrorResponses
{
    public static IResult Result(ApiException e) =>
        OpenAiJson.Result(new ErrorEnvelope(new ErrorBody(e.Message, e.Type, e.Param, e.Code)), OpenAiJson.Context.ErrorEnvelope, e.Status);

    public static Task Write(HttpContext ctx, ApiException e)
    {
        ctx.Response.StatusCode = e.Status;
        return OpenAiJson.WriteBodyAsync(ctx.Response, new ErrorEnvelope(new ErrorBody(e.Message, e.Type, e.Param, e.Code)), OpenAiJson.Context.ErrorEnvelope);
    }
}
