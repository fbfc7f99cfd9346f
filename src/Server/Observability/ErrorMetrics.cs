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
}
