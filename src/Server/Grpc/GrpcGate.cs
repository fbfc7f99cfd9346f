using System.Text;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Observability;
using InferenceServer.Server.Security;
using Microsoft.AspNetCore.Http.Features;

namespace InferenceServer.Server.Grpc;

/// <summary>
/// HTTP middleware in front of the gRPC endpoints, where it can act before Grpc.AspNetCore deserializes a message
/// (interceptors only run after that):
/// <list type="bullet">
/// <item>counts every gRPC call that ends with a non-OK status in <c>inference_grpc_errors_total{code}</c>, from the
/// status actually sent (so failures outside the handler count too: UNKNOWN, RESOURCE_EXHAUSTED from message limits,
/// DEADLINE_EXCEEDED, CANCELLED);</item>
/// <item>with API keys set, answers calls without <c>authorization: Bearer KEY</c> with UNAUTHENTICATED before reading
/// their body, by <see cref="AccessControl"/>'s rule (health and reflection open unless --protect-health /
/// --protect-metrics close them);</item>
/// <item>parses InferenceService request messages itself, so a malformed one (a string field that is not UTF-8, a
/// truncated message) is INVALID_ARGUMENT with a message instead of the UNKNOWN the runtime would answer.</item>
/// </list>
/// </summary>
public static class GrpcGate
{
    private static readonly string ServicePrefix = "/" + GrpcHosting.ServiceName + "/";

    public static IApplicationBuilder UseGrpcGate(this IApplicationBuilder app, AccessControl access)
    {
        return app.Use(async (ctx, next) =>
        {
            if (!GrpcRequests.IsGrpc(ctx.Request))
            {
                await next(ctx);
                return;
            }
            bool threw = false;
            long started = Environment.TickCount64;
            try
            {
                if (!access.Allows(ctx.Request))
                {
                    WriteStatus(ctx, StatusCode.Unauthenticated, "Invalid or missing API key: send metadata 'authorization: Bearer <key>'.");
                    return;
                }
                if (ctx.Request.Path.Value is { } path && path.StartsWith(ServicePrefix, StringComparison.Ordinal))
                {
                    if (await CheckMessageAsync(ctx, path[ServicePrefix.Length..]) is { } failure)
                    {
                        WriteStatus(ctx, failure.Code, failure.Message);
                        return;
                    }
                }
                await next(ctx);
            }
            catch
            {
                threw = true;
                throw;
            }
            finally
            {
                RecordStatus(ctx, threw, started);
            }
        });
    }

    /// <summary>
    /// Ends a call that has not started its response with a status and no messages (a trailers-only response: the
    /// status travels in the headers), the way Grpc.AspNetCore answers a call that fails before its first message.
    /// </summary>
    public static void WriteStatus(HttpContext ctx, StatusCode code, string message)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/grpc";
        ctx.Response.Headers["grpc-status"] = ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
        ctx.Response.Headers["grpc-message"] = PercentEncode(message);
    }

    /// <summary>
    /// Reads the call's body (unary and server-streaming calls send one message, then end the stream), parses each
    /// uncompressed message with the method's parser, and puts the bytes back for the gRPC endpoint to read. Null when
    /// the body is fine (or compressed, or the method unknown: the runtime answers those as before).
    /// </summary>
    private static async Task<(StatusCode Code, string Message)?> CheckMessageAsync(HttpContext ctx, string method)
    {
        if (InferenceService.Descriptor.FindMethodByName(method) is not { } descriptor) return null;
        var buffer = new MemoryStream();
        try
        {
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (StatusCode.ResourceExhausted, "The request message is larger than the server accepts.");
        }
        byte[] body = buffer.ToArray();
        ctx.Request.Body = new MemoryStream(body, writable: false);
        int at = 0;
        while (at < body.Length)
        {
            if (body.Length - at < 5) return (StatusCode.InvalidArgument, "Malformed request: truncated gRPC message header.");
            bool compressed = body[at] != 0;
            int length = (body[at + 1] << 24) | (body[at + 2] << 16) | (body[at + 3] << 8) | body[at + 4];
            at += 5;
            if (length < 0 || length > body.Length - at) return (StatusCode.InvalidArgument, "Malformed request: truncated gRPC message.");
            if (!compressed)
            {
                try
                {
                    descriptor.InputType.Parser.ParseFrom(body, at, length);
                }
                catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException or ArgumentException)
                {
                    // Protobuf reports invalid UTF-8 in a string field as a DecoderFallbackException (an ArgumentException).
                    string why = e is DecoderFallbackException ? "a string field is not valid UTF-8" : e.Message;
                    return (StatusCode.InvalidArgument, $"Malformed {descriptor.InputType.Name} message: {why}.");
                }
            }
            at += length;
        }
        return null;
    }

    /// <summary>The status the call ended with: the grpc-status trailer, or the header of a trailers-only response.</summary>
    private static void RecordStatus(HttpContext ctx, bool threw, long started)
    {
        string? status = ctx.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is { } trailers && trailers.TryGetValue("grpc-status", out var t) ? t.ToString() : null;
        if (string.IsNullOrEmpty(status) && ctx.Response.Headers.TryGetValue("grpc-status", out var h)) status = h.ToString();
        StatusCode? code = int.TryParse(status, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) ? (StatusCode)n : null;
        // A call the client reset ends CANCELLED for it, whatever the handler then set, unless its deadline had passed:
        // clients enforce deadlines themselves too, resetting the call at the deadline, so that is DEADLINE_EXCEEDED.
        if (ctx.RequestAborted.IsCancellationRequested && code != StatusCode.DeadlineExceeded)
            code = TimeoutMs(ctx.Request.Headers["grpc-timeout"].ToString()) is long ms && Environment.TickCount64 - started >= ms
                ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;
        code ??= threw ? StatusCode.Unknown : null;
        if (code is null) return;
        if (code != StatusCode.OK) ErrorMetrics.Record("grpc", code.Value.ToString());
    }

    /// <summary>The grpc-timeout header ("100m", "2S", ...) in milliseconds, rounded down; null when absent or unreadable.</summary>
    private static long? TimeoutMs(string header)
    {
        if (header.Length < 2 || !long.TryParse(header.AsSpan(0, header.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v))
            return null;
        return header[^1] switch
        {
            'H' => v * 3_600_000,
            'M' => v * 60_000,
            'S' => v * 1000,
            'm' => v,
            'u' => v / 1000,
            'n' => v / 1_000_000,
            _ => null,
        };
    }

    /// <summary>grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2 spec): bytes outside 0x20-0x7E and '%' are escaped.</summary>
    private static string PercentEncode(string message)
    {
        var sb = new StringBuilder(message.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%') sb.Append((char)b);
            else sb.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
