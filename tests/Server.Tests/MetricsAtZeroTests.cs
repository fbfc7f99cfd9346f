using System.Text.RegularExpressions;
using InferenceServer.Server.Observability;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Tests;

/// <summary>
/// A freshly started server already exposes every known error code and finish reason, so the shipped dashboard's
/// error and finish-reason panels show 0 instead of "no data" before anything has gone wrong.
/// </summary>
public sealed class MetricsAtZeroTests(ServerFixture server)
{
    [Fact]
    public async Task ErrorAndFinishReasonSeriesExistFromStartup()
    {
        var (app, baseUri) = await server.StartServer(new ServerSettings { ServedModelNames = [ServerFixture.Model] });
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = baseUri };
        var text = await http.GetStringAsync("metrics", TestContext.Current.CancellationToken);

        // Values may already be above 0 where other tests' requests ran meanwhile (the counters are process-wide); what
        // matters is that each series exists.
        void AssertSeries(string name, string label, string value) =>
            Assert.Matches(new Regex($@"(?m)^{name}\{{[^}}]*{label}=""{Regex.Escape(value)}""[^}}]*\}} \d+"), text);

        foreach (var code in ErrorMetrics.KnownHttpCodes)
            AssertSeries("inference_http_errors_total", "code", code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var code in ErrorMetrics.KnownGrpcCodes)
            AssertSeries("inference_grpc_errors_total", "code", code);
        // The finish-reason series carry the model label the dashboard's panels select on.
        foreach (var reason in new[] { "stop", "length", "abort" })
            Assert.Matches(new Regex($@"(?m)^inference_request_success_total\{{(?=[^}}]*finished_reason=""{reason}"")(?=[^}}]*model_name=""{ServerFixture.Model}"")[^}}]*\}} \d+"), text);
    }
}
