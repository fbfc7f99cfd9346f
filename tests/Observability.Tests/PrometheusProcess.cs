using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceServer.TestSupport;

namespace InferenceServer.Observability.Tests;

/// <summary>
/// A real Prometheus (Debian's package, unpacked into .cache/prometheus by tests/scripts/install-prometheus.sh) on a loopback port the OS picks, with
/// its own temporary config and TSDB, scraping one target every second. Killed on dispose.
/// </summary>
public sealed partial class PrometheusProcess : IAsyncDisposable
{
    public static string Binary => Tool("prometheus");

    /// <summary>A program of the unpacked package: .cache/prometheus/usr/bin/NAME in the checkout.</summary>
    public static string Tool(string name) => Path.Combine(RepoPaths.Root, ".cache", "prometheus", "usr", "bin", name);
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
        // Port 0: Prometheus binds a port the OS picks and logs it ("Listening on" address=127.0.0.1:PORT), read below.
        var psi = new ProcessStartInfo(Binary)
        {
            ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}", "--web.listen-address=127.0.0.1:0" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var log = new ConcurrentQueue<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null) return;
            log.Enqueue(line);
            while (log.Count > 40) log.TryDequeue(out _);
            if (ListeningOn().Match(line) is { Success: true } m) listening.TrySetResult(new Uri($"http://{m.Groups[1].Value}/"));
        }
        var process = Process.Start(psi)!;
        // Reading every line also keeps a full pipe from ever blocking Prometheus.
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Log() => string.Join("\n", log);

        var clock = Stopwatch.StartNew();
        void Abandon()
        {
            Kill(process);
            process.Dispose();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        try
        {
            await Waits.UntilAsync("prometheus logging the address it listens on", StartTimeout,
                _ => Task.FromResult(listening.Task.IsCompleted || process.HasExited));
        }
        catch (TimeoutException e)
        {
            string text = Log();
            Abandon();
            throw new TimeoutException($"{e.Message}; its log:\n{text}", e);
        }
        if (!listening.Task.IsCompleted)
        {
            process.WaitForExit(TimeSpan.FromSeconds(5)); // let the last log lines arrive
            string text = Log();
            int code = process.ExitCode;
            Abandon();
            throw new InvalidOperationException($"prometheus exited with {code} before listening; its log:\n{text}");
        }
        var baseUri = listening.Task.Result;
        var p = new PrometheusProcess(process, dir, baseUri);
        try
        {
            await Waits.UntilAsync($"prometheus at {baseUri} answering GET -/ready", StartTimeout - clock.Elapsed, async ct =>
            {
                if (process.HasExited) throw new InvalidOperationException($"prometheus exited with {process.ExitCode}; its log:\n{Log()}");
                using var response = await p.Http.GetAsync("-/ready", ct);
                return response.IsSuccessStatusCode;
            }, TimeSpan.FromMilliseconds(200));
            return p;
        }
        catch (TimeoutException e)
        {
            await p.DisposeAsync();
            throw new TimeoutException($"{e.Message}; its log:\n{Log()}", e);
        }
    }

    /// <summary>From Prometheus starting to its /-/ready answering 200 (usually about a second).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The line Prometheus (its exporter-toolkit web server) logs with the address it actually bound.</summary>
    [GeneratedRegex(@"msg=""Listening on"".*?\baddress=""?([0-9.]+:[0-9]+)")]
    private static partial Regex ListeningOn();

    private static void Kill(Process process)
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    /// <summary>Runs an instant query; returns the whole response ("status", "data") and the HTTP status.</summary>
    public async Task<(HttpStatusCode Status, JsonNode Body)> QueryAsync(string promql, CancellationToken cancellationToken = default)
    {
        using var response = await Http.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(promql), cancellationToken);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!);
    }

    /// <summary>The value of a query returning one sample, or null when it returns none.</summary>
    public async Task<double?> ScalarAsync(string promql, CancellationToken cancellationToken = default)
    {
        var (_, body) = await QueryAsync(promql, cancellationToken);
        var result = body["data"]?["result"]?.AsArray();
        if (result is null || result.Count == 0) return null;
        return double.Parse((string)result[0]!["value"]![1]!, System.Globalization.CultureInfo.InvariantCulture);
    }

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
