using Grpc.Core;
using InferenceServer.Server.Settings;
using InferenceServer.Server.OpenAi;

namespace InferenceServer.Server.Grpc;

/// <summary>
/// Turns engine and request failures into gRPC statuses. It reuses the REST layer's mapping
/// (<see cref="GenerationRunner.Map"/>: engine exception → HTTP-style <see cref="ApiException"/>) so both APIs refuse
/// the same requests with the same messages, and only translates the HTTP status into a gRPC code here.
/// </summary>
public static class GrpcErrors
{
    /// <summary>Trailer naming the offending request field (like the OpenAI error's "param"), when known.</summary>
    public const string ParamTrailer = "error-param";

    public static RpcException InvalidArgument(string message, string? param = null) => Create(StatusCode.InvalidArgument, message, param);

    public static RpcException Map(Exception e, ILogger logger)
    {
        if (e is RpcException rpc) return rpc;
        if (GenerationRunner.Map(e) is ApiException api) return Create(CodeFor(api.Status), api.Message, api.Param);
        // A bug rather than a bad request: log the details, send no internals.
        logger.LogError(e, "gRPC request failed");
        return new RpcException(new Status(StatusCode.Internal, "Internal server error."));
    }

    public static StatusCode CodeFor(int httpStatus) => httpStatus switch
    {
        400 or 413 or 422 => StatusCode.InvalidArgument,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.NotFound,
        429 => StatusCode.ResourceExhausted,
        503 => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    };

    /// <summary>An unknown model name is NOT_FOUND; empty means the server's own model.</summary>
    public static string CheckModel(string model, ServerSettings settings)
    {
        if (string.IsNullOrEmpty(model)) return settings.ModelName;
        if (!settings.ServedModelNames.Contains(model))
            throw Create(StatusCode.NotFound, $"The model '{model}' does not exist.", "model");
        return model;
    }

    private static RpcException Create(StatusCode code, string message, string? param)
    {
        var trailers = new Metadata();
        if (param != null) trailers.Add(ParamTrailer, param);
        return new RpcException(new Status(code, message), trailers);
    }
}
