using System.Diagnostics.Metrics;

namespace InferenceServer.Server.Observability;

/// <summary>
/// Error responses by protocol and code: <c>inference_http_errors_total{code="400"}</c> and
/// <c>inference_grpc_errors_total{code="InvalidArgument"}</c> (Grpc.Core.StatusCode names). Static so any front end
/// (REST middleware, the gRPC interceptor) can record without plumbing; the meter provider of each host picks it up by name.
/// </summary>
public static class ErrorMetrics
{
    private static readonly Meter Meter = new(MetricNames.Meter);
    private static readonly Counter<long> Http = Meter.CreateCounter<long>(MetricNames.HttpErrors, description: "HTTP responses with status >= 400, by status code.");
    private static readonly Counter<long> Grpc = Meter.CreateCounter<long>(MetricNames.GrpcErrors, description: "gRPC calls that ended with a non-OK status, by status code name.");

    /// <param name="protocol">"http" or "grpc".</param>
    /// <param name="code">HTTP: the numeric status ("429"); gRPC: the StatusCode name ("RESOURCE_EXHAUSTED" or "ResourceExhausted").</param>
    public static void Record(string protocol, string code)
    {
        var tag = new KeyValuePair<string, object?>("code", code);
        if (string.Equals(protocol, "grpc", StringComparison.OrdinalIgnoreCase)) Grpc.Add(1, tag);
        else Http.Add(1, tag);
    }

    private static readonly Counter<long> Rejections = Meter.CreateCounter<long>(MetricNames.AdmissionRejections,
        description: "Generation requests refused at the door (429), by reason: client (per-client limit) or server (server-wide limit).");

    /// <summary>A request refused by admission control; these are counted here instead of logged one by one.</summary>
    public static void RecordRejection(string reason) => Rejections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public static void RecordHttp(int status) => Record("http", status.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The HTTP statuses this server answers with (OpenAI error objects and Kestrel's own).</summary>
    public static readonly IReadOnlyList<int> KnownHttpCodes = [400, 401, 403, 404, 405, 408, 413, 429, 500, 503];

    /// <summary>The gRPC status names this server ends calls with (Grpc.Core.StatusCode names, as recorded).</summary>
    public static readonly IReadOnlyList<string> KnownGrpcCodes =
        ["InvalidArgument", "Unauthenticated", "PermissionDenied", "NotFound", "ResourceExhausted", "DeadlineExceeded", "Cancelled", "Unavailable", "Internal", "Unknown"];

    /// <summary>
    /// Adds 0 for every known code, so each series exists from startup and dashboards show 0 rather than "no data" on a
    /// healthy server. Call once a meter provider listens (a measurement with no listener is dropped).
    /// </summary>
    public static void SeedZeros()
    {
        foreach (var code in KnownHttpCodes) Http.Add(0, new KeyValuePair<string, object?>("code", code.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        foreach (var code in KnownGrpcCodes) Grpc.Add(0, new KeyValuePair<string, object?>("code", code));
    }
}
