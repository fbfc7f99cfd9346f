using System.Text.Json.Nodes;

namespace InferenceServer.Deploy.Tests;

/// <summary>docker-compose.yml against the compose-spec schema and its wiring; the Prometheus config and rules with promtool.</summary>
public sealed class ComposeAndPrometheusTests
{
    private static readonly string ComposePath = Path.Combine(DeployTools.Root, "docker-compose.yml");

    [Fact]
    public void Compose_file_validates_against_the_compose_spec_schema()
    {
        var (code, report) = DeployTools.Check("compose", ComposePath);
        Assert.True(code == 0, $"docker-compose.yml: {report.ToJsonString()}");
    }

    [Fact]
    public void Compose_wires_gpu_and_cpu_servers_prometheus_and_grafana()
    {
        var compose = DeployTools.Yaml(ComposePath)[0]!;
        var services = compose["services"]!.AsObject();
        var gpu = services["inference-server-gpu"]!;
        Assert.Equal("cuda", (string?)gpu["build"]!["target"]);
        Assert.Equal(["gpu"], gpu["profiles"]!.AsArray().Select(p => (string)p!));
        var device = gpu["deploy"]!["resources"]!["reservations"]!["devices"]![0]!;
        Assert.Equal("nvidia", (string?)device["driver"]);
        Assert.Contains("gpu", device["capabilities"]!.AsArray().Select(c => (string)c!));
        var cpu = services["inference-server-cpu"]!;
        Assert.Equal("cpu", (string?)cpu["build"]!["target"]);
        Assert.Equal(["cpu"], cpu["profiles"]!.AsArray().Select(p => (string)p!));
        foreach (var server in new[] { gpu, cpu })
        {
            Assert.Equal("/usr/local/bin/healthcheck", (string?)server["healthcheck"]!["test"]![1]);
            // Both answer as the host name the shipped scrape config targets.
            Assert.Contains("inference-server", server["networks"]!["default"]!["aliases"]!.AsArray().Select(a => (string)a!));
        }
        Assert.Contains("inference-server:8000", File.ReadAllText(Path.Combine(DeployTools.Root, "deploy", "prometheus", "prometheus.yml")));
        Assert.Equal("service_healthy", (string?)services["grafana"]!["depends_on"]!["prometheus"]!["condition"]);
        Assert.NotNull(services["prometheus"]!["healthcheck"]);
        // Named volumes for the data; every bind mount's source exists in the repository.
        Assert.True(compose["volumes"]!.AsObject().ContainsKey("prometheus-data"));
        Assert.True(compose["volumes"]!.AsObject().ContainsKey("grafana-data"));
        foreach (var (name, service) in services)
            foreach (var v in service!["volumes"]?.AsArray() ?? [])
            {
                var source = ((string)v!).Split(':')[0];
                if (source.StartsWith("./deploy/", StringComparison.Ordinal))
                    Assert.True(File.Exists(Path.Combine(DeployTools.Root, source)) || Directory.Exists(Path.Combine(DeployTools.Root, source)), $"{name}: {source} is missing");
            }
        Assert.Contains("prometheus-data:/prometheus", services["prometheus"]!["volumes"]!.AsArray().Select(v => (string)v!));
        Assert.Contains("grafana-data:/var/lib/grafana", services["grafana"]!["volumes"]!.AsArray().Select(v => (string)v!));
    }

    [Theory]
    [InlineData("config", "prometheus.yml")]
    [InlineData("rules", "rules.yml")]
    public void Promtool_accepts_the_prometheus_files(string what, string file)
    {
        Assert.True(File.Exists(DeployTools.Promtool), $"{DeployTools.Promtool} is missing: run tests/scripts/install-prometheus.sh (tests/run-all.sh does).");
        var (code, stdout, stderr) = DeployTools.Run(DeployTools.Promtool, DeployTools.Root, "check", what, Path.Combine("deploy", "prometheus", file));
        Assert.True(code == 0, $"promtool check {what} {file}: {stdout}{stderr}");
        Assert.Contains("SUCCESS", stdout + stderr);
    }

    [Fact]
    public void Promtool_rejects_a_broken_rule()
    {
        Assert.True(File.Exists(DeployTools.Promtool), $"{DeployTools.Promtool} is missing: run tests/scripts/install-prometheus.sh.");
        string bad = Path.Combine(Path.GetTempPath(), $"bad-rules-{Environment.ProcessId}.yml");
        File.WriteAllText(bad, File.ReadAllText(Path.Combine(DeployTools.Root, "deploy", "prometheus", "rules.yml")).Replace("> 16", "> > 16", StringComparison.Ordinal));
        var (code, _, _) = DeployTools.Run(DeployTools.Promtool, DeployTools.Root, "check", "rules", bad);
        Assert.NotEqual(0, code);
    }

    [Fact]
    public void Dashboard_has_namespace_pod_and_model_variables_that_every_query_uses()
    {
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(DeployTools.Root, "deploy", "grafana", "dashboards", "inference-server.json")))!;
        var variables = dashboard["templating"]!["list"]!.AsArray().ToDictionary(v => (string)v!["name"]!, v => v!);
        Assert.Contains("model_name)", (string?)variables["model"]["definition"]);
        Assert.Contains("namespace)", (string?)variables["namespace"]["definition"]);
        Assert.Contains("pod)", (string?)variables["pod"]["definition"]);
        foreach (var expr in dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => (string)t!["expr"]!))
        {
            Assert.Contains("namespace=~\"$namespace\"", expr);
            Assert.Contains("pod=~\"$pod\"", expr);
            if (!expr.Contains("_errors_total", StringComparison.Ordinal)) Assert.Contains("model_name=~\"$model\"", expr);
        }
    }
}
