using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace InferenceServer.Observability.Tests;

/// <summary>
/// A real Prometheus (Debian's package, installed by tests/scripts/install-prometheus.sh) on a loopback port with
/// its own temporary config and TSDB, scraping one target every second. Killed on dispose.
/// </summary>
public sealed class PrometheusProcess : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";
    public const string Job = "inference-server";
    private readonly Process _process;
    private readonly string _dir;
    public Uri BaseUri { get; }
    public HttpClient Http { get; }

    private PrometheusProcess(Process process, string dir, Uri baseUri)
    {
        _process = process;
        _dir = dir;
        BaseUri = baseUri;
        Http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public static async Task<PrometheusProcess> StartAsync(Uri target)
    {
        if (!File.Exists(Binary))
            throw new InvalidOperationException($"{Binary} is missing: run tests/scripts/install-prometheus.sh (tests/run-all.sh does).");
        string dir = Directory.CreateTempSubdirectory("obs-prometheus-").FullName;
        string config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: {Job}
                metrics_path: /metrics
                static_configs:
                  - targets: ["{target.Authority}"]
            """);
        int port = FreePort();
        var psi = new ProcessStartInfo(Binary)
        {
            ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}", $"--web.listen-address=127.0.0.1:{port}" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(psi)!;
        // Drain the logs so a full pipe never blocks Prometheus.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var p = new PrometheusProcess(process, dir, new Uri($"http://127.0.0.1:{port}/"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"prometheus exited with {process.ExitCode}");
            try
            {
                if ((await p.Http.GetAsync("-/ready")).IsSuccessStatusCode) return p;
            }
            catch (HttpRequestException) { }
            if (DateTime.UtcNow > deadline) { await p.DisposeAsync(); throw new TimeoutException("prometheus did not become ready in 30 s"); }
            await Task.Delay(200);
        }
    }

    /// <summary>Runs an instant query; returns the whole response ("status", "data") and the HTTP status.</summary>
    public async Task<(HttpStatusCode Status, JsonNode Body)> QueryAsync(string promql)
    {
        using var response = await Http.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(promql));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    /// <summary>The value of a query returning one sample, or null when it returns none.</summary>
    public async Task<double?> ScalarAsync(string promql)
    {
        var (_, body) = await QueryAsync(promql);
        var result = body["data"]?["result"]?.AsArray();
        if (result is null || result.Count == 0) return null;
        return double.Parse((string)result[0]!["value"]![1]!, System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static int FreePort() => InferenceServer.TestSupport.Ports.FreeLoopback();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException) { }
        _process.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
