using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceServer.TestSupport;

namespace InferenceServer.Observability.Tests;

/// <summary>The Grafana dashboard and the Prometheus config in deploy/ work against a real Prometheus scraping the real server.</summary>
public sealed partial class DashboardTests(ObservabilityFixture fx)
{
    private static readonly string DashboardPath = Path.Combine(RepoPaths.Root, "deploy", "grafana", "dashboards", "inference-server.json");

    /// <summary>
    /// Every "expr" in the dashboard, with Grafana's $__rate_interval replaced by a window Prometheus accepts, the
    /// namespace and pod variables at "All" (.*: the test's static scrape has neither label) and the model variable at the
    /// served name, so a query returns series only if the server labels them with model_name.
    /// </summary>
    public static List<string> Expressions()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(DashboardPath))!;
        return dashboard["panels"]!.AsArray()
            .SelectMany(p => p!["targets"]!.AsArray())
            .Select(t => ((string)t!["expr"]!).Replace("$__rate_interval", "1m", StringComparison.Ordinal)
                .Replace("$namespace", ".*", StringComparison.Ordinal).Replace("$pod", ".*", StringComparison.Ordinal)
                .Replace("$model", "tiny-llama", StringComparison.Ordinal))
            .ToList();
    }

    [Fact]
    public async Task Every_dashboard_query_evaluates_in_prometheus_and_returns_series()
    {
        var exprs = Expressions();
        Assert.True(exprs.Count >= 20, $"only {exprs.Count} queries in the dashboard");
        foreach (var expr in exprs)
        {
            var (status, body) = await fx.Prometheus.QueryAsync(expr, TestContext.Current.CancellationToken);
            Assert.True(status == HttpStatusCode.OK && (string?)body["status"] == "success", $"{expr}: {body.ToJsonString()}");
            // Non-empty: each query has data behind it after the burst (a value may be NaN, e.g. a quantile of a zero rate).
            Assert.True(body["data"]!["result"]!.AsArray().Count > 0, $"{expr} returned no series");
        }
    }

    [Fact]
    public void Every_metric_the_dashboard_references_is_in_the_scrape()
    {
        var names = Expressions().SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).Distinct().ToList();
        Assert.NotEmpty(names);
        foreach (var name in names)
            Assert.True(ObservabilityFixture.Sample(fx.FinalScrape, name) is not null, $"{name} is not exposed at /metrics");
    }

    [Fact]
    public async Task Promtool_accepts_the_deploy_config()
    {
        string promtool = PrometheusProcess.Tool("promtool");
        Assert.True(File.Exists(promtool), $"{promtool} is missing: run tests/scripts/install-prometheus.sh (tests/run-all.sh does).");
        var psi = new ProcessStartInfo(promtool) { ArgumentList = { "check", "config", Path.Combine(RepoPaths.Root, "deploy", "prometheus", "prometheus.yml") }, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var ct = TestContext.Current.CancellationToken;
        var output = Task.WhenAll(p.StandardOutput.ReadToEndAsync(ct), p.StandardError.ReadToEndAsync(ct));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        var text = string.Join("\n", await output);
        Assert.True(p.ExitCode == 0, text);
    }

    [Fact]
    public void Grafana_provisioning_points_at_the_dashboard_folder_and_datasource_uid()
    {
        // Grafana is not run here; check the links between the three files that a typo would silently break.
        string root = Path.Combine(RepoPaths.Root, "deploy", "grafana");
        Assert.Contains("uid: prometheus", File.ReadAllText(Path.Combine(root, "provisioning", "datasources", "prometheus.yml")));
        Assert.Contains("path: /var/lib/grafana/dashboards", File.ReadAllText(Path.Combine(root, "provisioning", "dashboards", "inference-server.yml")));
        var dashboard = JsonNode.Parse(File.ReadAllText(DashboardPath))!;
        Assert.Equal("prometheus", (string?)dashboard["templating"]!["list"]![0]!["current"]!["value"]);
    }

    [GeneratedRegex(@"\binference_[a-z0-9_]+")]
    private static partial Regex MetricName();
}
