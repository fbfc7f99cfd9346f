using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Serving;
using InferenceServer.Quant;
using InferenceServer.Server.Cli;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Loading;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;
using static TorchSharp.torch;

namespace InferenceServer.Deploy.Tests;

/// <summary>
/// The real server (Kestrel on 127.0.0.1 port 0) started the way <c>serve</c> starts it: listening first, the model
/// loading on its own thread. A load held on a gate stands for a large model's minutes of loading and quantizing. The
/// same server then checks that what the manifests name exists in it: probe paths, ports, flags and metric names.
/// One class, run in sequence: every host in the process exports the same meter.
/// </summary>
public sealed class LoadingServerTests
{
    private static readonly string[] QuietLogs = ["--Logging:LogLevel:Default=Warning"];
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(1);

    private static LoadedModel LoadTinyLlama()
    {
        var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        return new LoadedModel(model, tokenizer, config, RepoPaths.TinyLlama);
    }

    private static ServerSettings Settings(string model) => new() { Host = "127.0.0.1", Port = 0, GrpcPort = 0, ServedModelNames = [model] };

    [Fact]
    public async Task Probes_answer_during_a_slow_load_and_the_manifests_match_the_server()
    {
        var ct = TestContext.Current.CancellationToken;
        using var gate = new ManualResetEventSlim();
        await using var server = await LoadingServer.StartAsync(() =>
        {
            Assert.True(gate.Wait(Bound), "the test never released the load");
            return LoadTinyLlama();
        }, new EngineOptions { MaxModelLen = 256, NumKvBlocks = 64 }, Settings("tiny-llama"), args: QuietLogs, ct: ct);
        var (rest, _) = await BoundAddresses.RestAndGrpcAsync(server.App.Urls, ct);
        using var http = new HttpClient { BaseAddress = rest, Timeout = Bound };

        // While loading: live, not ready, and the API says why with an OpenAI error object.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/ready", ct)).StatusCode);
        var early = await http.PostAsJsonAsync("/v1/completions", new { model = "tiny-llama", prompt = "Hi", max_tokens = 2 }, ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, early.StatusCode);
        var error = JsonNode.Parse(await early.Content.ReadAsStringAsync(ct))!["error"]!;
        Assert.Contains("still loading", (string?)error["message"]);
        // The gauges the router reads exist from the start, at zero.
        var loadingScrape = await http.GetStringAsync("/metrics", ct);
        Assert.Equal(0, Sample(loadingScrape, "inference_num_requests_waiting"));
        // The container HEALTHCHECK script passes against a loading server.
        Assert.Equal(0, RunHealthcheck(rest.Port));
        Assert.False(server.Ready.IsCompleted);

        gate.Set();
        await server.Ready.WaitAsync(Bound, ct);
        await Waits.HttpReadyAsync(rest, "ready", Bound, ct);
        var done = await http.PostAsJsonAsync("/v1/completions", new { model = "tiny-llama", prompt = "Hello", max_tokens = 4 }, ct);
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);

        var scrape = await http.GetStringAsync("/metrics", ct);
        CheckMetricNames(scrape);
        CheckFlagsAndPorts();
    }

    [Fact]
    public async Task A_failed_load_faults_and_the_server_stays_unready()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await LoadingServer.StartAsync(() => throw new InvalidOperationException("no such checkpoint"),
            new EngineOptions(), Settings("failing-model"), args: QuietLogs, ct: ct);
        var (rest, _) = await BoundAddresses.RestAndGrpcAsync(server.App.Urls, ct);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => server.Ready.WaitAsync(Bound, ct));
        Assert.Equal("no such checkpoint", e.Message);
        using var http = new HttpClient { BaseAddress = rest, Timeout = Bound };
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/ready", ct)).StatusCode);
    }

    [Fact]
    public void Serve_reports_a_load_that_fails_after_it_started_listening()
    {
        // serve listens first; the loader's error still ends it with exit code 2 and the message naming the flag.
        string missing = Path.Combine(Path.GetTempPath(), $"no-such-model-{Guid.NewGuid():N}");
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        int code;
        try
        {
            code = CommandLine.Run(["serve", "--model", missing, "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0", "--device", "cpu"]);
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
        Assert.Equal(2, code);
        Assert.Contains("while the model loads", o.ToString());
        Assert.Contains($"--model {missing}: no such directory", e.ToString());
    }

    [Fact]
    public void The_healthcheck_script_fails_when_nothing_listens()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();   // a port that was just free
        Assert.NotEqual(0, RunHealthcheck(port));
    }

    private static int RunHealthcheck(int port)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("bash", [Path.Combine(DeployTools.Root, "deploy", "docker", "healthcheck.sh")]) { RedirectStandardError = true };
        psi.Environment["HEALTH_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var p = System.Diagnostics.Process.Start(psi)!;
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(20)), "healthcheck.sh hung");
        return p.ExitCode;
    }

    /// <summary>The value of the series of <paramref name="name"/> labelled with a model_name, or null.</summary>
    private static double? Sample(string scrape, string name)
    {
        var m = Regex.Match(scrape, $@"^{Regex.Escape(name)}\{{[^}}]*model_name=""[^""]+""[^}}]*\}} (\S+)", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private static void CheckMetricNames(string scrape)
    {
        var exposed = Regex.Matches(scrape, @"^(inference_[a-z0-9_]+?)(_bucket|_sum|_count)?\{", RegexOptions.Multiline)
            .SelectMany(m => new[] { m.Groups[1].Value, m.Groups[1].Value + m.Groups[2].Value }).ToHashSet();
        var named = new List<(string Where, string Metric)>();
        foreach (var overlay in DeployTools.OverlayNames)
        {
            var (_, objects) = DeployTools.Render(overlay);
            foreach (var hpa in objects.Where(o => (string?)o!["kind"] == "HorizontalPodAutoscaler"))
                foreach (var metric in hpa!["spec"]!["metrics"]!.AsArray())
                    named.Add(($"{overlay} HPA", (string)metric!["pods"]!["metric"]!["name"]!));
            foreach (var epp in objects.Where(o => (string?)o!["kind"] == "Deployment" && ((string?)o["metadata"]!["name"])!.EndsWith("-epp", StringComparison.Ordinal)))
            {
                var args = epp!["spec"]!["template"]!["spec"]!["containers"]![0]!["args"]!.AsArray().Select(a => (string)a!).ToList();
                foreach (var flag in new[] { "--total-queued-requests-metric", "--kv-cache-usage-percentage-metric", "--cache-info-metric" })
                    named.Add(($"{overlay} EPP {flag}", args[args.IndexOf(flag) + 1]));
            }
        }
        var adapter = DeployTools.Yaml(Path.Combine(DeployTools.Root, "deploy", "k8s", "prometheus-adapter", "values.yaml"))[0]!;
        foreach (var rule in adapter["rules"]!["custom"]!.AsArray())
        {
            named.Add(("prometheus-adapter seriesQuery", ((string)rule!["seriesQuery"]!).Split('{')[0]));
            named.Add(("prometheus-adapter name.as", (string)rule["name"]!["as"]!));
        }
        var rules = DeployTools.Yaml(Path.Combine(DeployTools.Root, "deploy", "prometheus", "rules.yml"))[0]!;
        foreach (var rule in rules["groups"]![0]!["rules"]!.AsArray())
            foreach (Match m in Regex.Matches((string)rule!["expr"]!, @"inference_[a-z0-9_]+"))
                named.Add(($"rules.yml {(string)rule["alert"]!}", m.Value));
        Assert.True(named.Count >= 10, $"only {named.Count} metric names found in the manifests");
        var missing = named.Where(n => !exposed.Contains(n.Metric)).ToList();
        Assert.True(missing.Count == 0, "named but not exposed: " + string.Join(", ", missing));
        // The HPA asks the adapter for the name the adapter serves.
        Assert.Contains(("gpu HPA", "inference_num_requests_waiting"), named);
        // The model-server protocol: both gauges are gauges, the KV-cache one a fraction in [0, 1].
        Assert.Contains("# TYPE inference_num_requests_waiting gauge", scrape);
        Assert.Contains("# TYPE inference_kv_cache_usage_perc gauge", scrape);
        Assert.InRange(Sample(scrape, "inference_kv_cache_usage_perc")!.Value, 0, 1);
        Assert.Matches(@"inference_cache_config_info\{[^}]*block_size=""16""", scrape);
    }

    /// <summary>Flags being built on another branch (tensor parallelism); the overlays that use them say so.</summary>
    private static readonly string[] PendingFlags = ["--tensor-parallel-size"];

    private static void CheckFlagsAndPorts()
    {
        var serve = ServeCommand.Create(QuantMethods.CreateRegistry());
        var known = serve.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet();
        var used = new List<(string Where, string Flag)>();
        foreach (var overlay in DeployTools.OverlayNames)
        {
            var (_, objects) = DeployTools.Render(overlay);
            foreach (var o in objects.Where(o => (string?)o!["metadata"]!["name"] == "inference-server" && (string?)o["kind"] is "Deployment" or "LeaderWorkerSet"))
            {
                var templates = (string?)o!["kind"] == "Deployment"
                    ? [o["spec"]!["template"]!]
                    : new[] { o["spec"]!["leaderWorkerTemplate"]!["leaderTemplate"]!, o["spec"]!["leaderWorkerTemplate"]!["workerTemplate"]! };
                foreach (var t in templates)
                {
                    var c = t!["spec"]!["containers"]![0]!;
                    used.AddRange(c["args"]!.AsArray().Select(a => (string)a!).Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => ($"{overlay} {(string)o["kind"]!}", a)));
                    foreach (var (probe, path) in new[] { ("livenessProbe", "/health"), ("readinessProbe", "/ready"), ("startupProbe", "/ready") })
                        if (c[probe] is { } p) Assert.Equal(path, (string?)p["httpGet"]!["path"]);
                    var ports = c["ports"]!.AsArray().ToDictionary(p => (string)p!["name"]!, p => (int)p!["containerPort"]!);
                    Assert.Equal(serve.Parse("").GetValue<int>("--port"), ports["http"]);
                    Assert.Equal(serve.Parse("").GetValue<int>("--grpc-port"), ports["grpc"]);
                }
            }
        }
        var compose = DeployTools.Yaml(Path.Combine(DeployTools.Root, "docker-compose.yml"))[0]!["services"]!.AsObject();
        foreach (var (name, s) in compose.Where(s => s.Key.StartsWith("inference-server", StringComparison.Ordinal)))
            used.AddRange(s!["command"]!.AsArray().Select(a => (string)a!).Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => ($"compose {name}", a)));
        foreach (var entry in File.ReadAllLines(Path.Combine(DeployTools.Root, "Dockerfile")).Where(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal)))
            used.AddRange(Regex.Matches(entry, "\"(--[a-z-]+)\"").Select(m => ("Dockerfile ENTRYPOINT", m.Groups[1].Value)));
        Assert.True(used.Count >= 20, $"only {used.Count} flags found");
        var unknown = used.Where(u => !known.Contains(u.Flag) && !PendingFlags.Contains(u.Flag)).ToList();
        Assert.True(unknown.Count == 0, "not serve flags: " + string.Join(", ", unknown));
        Assert.All(used.Where(u => PendingFlags.Contains(u.Flag)), u => Assert.Contains("tensor-parallel", u.Where));
    }
}
