using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Grpc.Core;
using Grpc.Health.V1;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Cli;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>
/// Access control against the real server: several keys (any accepted), one rule for REST and gRPC (inference and
/// tokenize need the key; probes, metrics and descriptions open unless --protect-health / --protect-metrics), REST
/// routes refused on the gRPC port unless --rest-on-grpc-port, keys never in the logs or a settings dump.
/// </summary>
public sealed class AccessControlTests(ServerFixture server)
{
    private const string Completion = "{\"prompt\": \"x\", \"max_tokens\": 1}";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Starts the real server on the shared engine without the fixture's GET /health probe (which --protect-health
    /// closes): REST (HTTP/1.1) first, gRPC (h2c) second, both on 127.0.0.1 port 0.
    /// </summary>
    private async Task<Started> Start(ServerSettings settings, Action<WebApplicationBuilder>? configure = null, string logLevel = "Warning")
    {
        var app = ServerHost.Build(server.Engine, settings with { ServedModelNames = [ServerFixture.Model], Host = "127.0.0.1", Port = 0, GrpcPort = 0 },
            [$"--Logging:LogLevel:Default={logLevel}"], configure);
        try
        {
            await app.StartAsync(Ct);
            var uris = BoundAddresses.Parse(app.Urls, 2);
            return new Started(app, uris[0], new Uri($"{uris[1].Scheme}://{uris[1].Authority}"));
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private sealed record Started(WebApplication App, Uri Rest, Uri Grpc) : IAsyncDisposable
    {
        public HttpClient Http(string? key = null)
        {
            var http = new HttpClient { BaseAddress = Rest, Timeout = TimeSpan.FromMinutes(2) };
            if (key != null) http.DefaultRequestHeaders.Authorization = Tests.Http.Bearer(key);
            return http;
        }

        public async ValueTask DisposeAsync()
        {
            await App.StopAsync(CancellationToken.None);
            await App.DisposeAsync();
        }
    }

    private static async Task<int> Get(HttpClient http, string path) => (int)(await http.GetAsync(path, Ct)).StatusCode;

    private static readonly Method<byte[], byte[]> Reflection = new(MethodType.DuplexStreaming, "grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo",
        Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    /// <summary>ServerReflectionRequest { list_services = "" } through the raw reflection method; true when a response comes.</summary>
    private static async Task<bool> ListServices(Uri grpc, string? key)
    {
        using var call = Channel(grpc).CreateCallInvoker().AsyncDuplexStreamingCall(Reflection, null, Options(key));
        try
        {
            await call.RequestStream.WriteAsync([0x3A, 0x00], Ct);
            await call.RequestStream.CompleteAsync();
        }
        catch (RpcException)
        {
            // A server that refuses the call (Unauthenticated) may end it before the request is written; the write then
            // fails as Cancelled, and the server's own status comes with the response below.
        }
        return await call.ResponseStream.MoveNext(Ct);
    }

    private static Task<HealthCheckResponse> Health(Uri grpc, string? key) =>
        new Health.HealthClient(Channel(grpc)).CheckAsync(new HealthCheckRequest(), Options(key)).ResponseAsync;

    [Fact]
    public async Task Any_of_several_keys_is_accepted_over_rest_and_grpc()
    {
        await using var s = await Start(new ServerSettings { ApiKeys = ["key-one", "key-two"] });
        foreach (var key in new[] { "key-one", "key-two" })
        {
            using var http = s.Http(key);
            Assert.Equal(200, (await Http.Post(http, "v1/completions", Completion)).Status);
            var client = new InferenceService.InferenceServiceClient(Channel(s.Grpc));
            Assert.NotEmpty((await client.TokenizeAsync(new TokenizeRequest { Text = "x" }, Options(key))).TokenIds);
        }
        foreach (var key in new[] { "key-three", "key-on", "Key-One", "key-onekey-two", "" })
        {
            using var http = s.Http(key.Length == 0 ? null : key);
            var (status, body, _) = await Http.Post(http, "v1/completions", Completion);
            Assert.Equal(401, status);
            Assert.Equal("invalid_api_key", (string?)body?["error"]?["code"]);
            var client = new InferenceService.InferenceServiceClient(Channel(s.Grpc));
            var e = await Fails(() => client.TokenizeAsync(new TokenizeRequest { Text = "x" }, Options(key.Length == 0 ? null : key)).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }
    }

    [Fact]
    public async Task Inference_and_tokenize_need_the_key_probes_metrics_and_descriptions_stay_open_by_default()
    {
        await using var s = await Start(new ServerSettings { ApiKey = "sekrit" });
        using var anonymous = s.Http();
        using var keyed = s.Http("sekrit");
        foreach (var (path, body) in new[] { ("v1/completions", Completion), ("v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 1}"),
                     ("tokenize", "{\"prompt\": \"x\"}"), ("detokenize", "{\"tokens\": [1, 2]}") })
        {
            Assert.Equal(401, (await Http.Post(anonymous, path, body)).Status);
            Assert.Equal(200, (await Http.Post(keyed, path, body)).Status);
        }
        Assert.Equal(401, await Get(anonymous, "v1/models"));
        Assert.Equal(200, await Get(keyed, "v1/models"));
        foreach (var path in new[] { "health", "ready", "metrics", "openapi/v1.json", "docs" })
            Assert.Equal(200, await Get(anonymous, path));

        // gRPC: the inference service needs the key, health and reflection do not.
        var client = new InferenceService.InferenceServiceClient(Channel(s.Grpc));
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(() => client.CompleteAsync(Greedy("x", 1), Options()).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(() => client.GetLoadAsync(new GetLoadRequest(), Options()).ResponseAsync)).StatusCode);
        Assert.Single((await client.CompleteAsync(Greedy("x", 1), Options("sekrit"))).TokenIds);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await Health(s.Grpc, null)).Status);
        Assert.True(await ListServices(s.Grpc, null));
    }

    [Fact]
    public async Task Protect_health_closes_rest_and_grpc_health_only()
    {
        await using var s = await Start(new ServerSettings { ApiKey = "sekrit", ProtectHealth = true });
        using var anonymous = s.Http();
        using var keyed = s.Http("sekrit");
        foreach (var path in new[] { "health", "ready" })
        {
            Assert.Equal(401, await Get(anonymous, path));
            Assert.Equal(200, await Get(keyed, path));
        }
        Assert.Equal(200, await Get(anonymous, "metrics"));
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(() => Health(s.Grpc, null))).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(() => Health(s.Grpc, "wrong"))).StatusCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await Health(s.Grpc, "sekrit")).Status);
        Assert.True(await ListServices(s.Grpc, null));
    }

    [Fact]
    public async Task Protect_metrics_closes_metrics_descriptions_and_grpc_reflection_only()
    {
        await using var s = await Start(new ServerSettings { ApiKey = "sekrit", ProtectMetrics = true });
        using var anonymous = s.Http();
        using var keyed = s.Http("sekrit");
        foreach (var path in new[] { "metrics", "openapi/v1.json", "docs" })
        {
            Assert.Equal(401, await Get(anonymous, path));
            Assert.Equal(200, await Get(keyed, path));
        }
        Assert.Equal(200, await Get(anonymous, "health"));
        Assert.Equal(200, await Get(anonymous, "ready"));
        Assert.Equal(StatusCode.Unauthenticated, (await Fails(() => ListServices(s.Grpc, null))).StatusCode);
        Assert.True(await ListServices(s.Grpc, "sekrit"));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await Health(s.Grpc, null)).Status);
    }

    [Fact]
    public async Task Without_a_key_the_protect_flags_change_nothing()
    {
        await using var s = await Start(new ServerSettings { ProtectHealth = true, ProtectMetrics = true });
        using var anonymous = s.Http();
        Assert.Equal(200, await Get(anonymous, "health"));
        Assert.Equal(200, await Get(anonymous, "metrics"));
        Assert.Equal(200, (await Http.Post(anonymous, "v1/completions", Completion)).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await Health(s.Grpc, null)).Status);
    }

    private static HttpClient H2c(Uri grpc) => new()
    {
        BaseAddress = grpc,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromMinutes(2),
    };

    [Fact]
    public async Task Rest_routes_are_404_on_the_grpc_port_while_each_port_serves_its_own()
    {
        // The shared server: no key, default settings.
        using var h2 = H2c(server.GrpcUri);
        Assert.Equal(404, await Get(h2, "/health"));
        Assert.Equal(404, await Get(h2, "/metrics"));
        var (status, body, _) = await Http.Post(h2, "/v1/completions", Completion);
        Assert.Equal(404, status);
        Assert.Contains("gRPC port", (string?)body?["error"]?["message"]);
        // gRPC still works on its port, REST on its port.
        var client = new InferenceService.InferenceServiceClient(Channel(server.GrpcUri));
        Assert.Single((await client.CompleteAsync(Greedy("x", 1), Options())).TokenIds);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await Health(server.GrpcUri, null)).Status);
        Assert.Equal(200, await Get(server.Http, "health"));
        Assert.Equal(200, (await Http.Post(server.Http, "v1/completions", Completion)).Status);
    }

    [Fact]
    public async Task Rest_on_grpc_port_serves_rest_there_too_under_the_same_key_rule()
    {
        await using var s = await Start(new ServerSettings { ApiKey = "sekrit", RestOnGrpcPort = true });
        using var h2 = H2c(s.Grpc);
        Assert.Equal(200, await Get(h2, "/health"));
        Assert.Equal(401, (await Http.Post(h2, "/v1/completions", Completion)).Status);
        h2.DefaultRequestHeaders.Authorization = Http.Bearer("sekrit");
        Assert.Equal(200, (await Http.Post(h2, "/v1/completions", Completion)).Status);
        var client = new InferenceService.InferenceServiceClient(Channel(s.Grpc));
        Assert.Single((await client.CompleteAsync(Greedy("x", 1), Options("sekrit"))).TokenIds);
    }

    private sealed class CaptureLogs : ILoggerProvider, ILogger
    {
        public readonly ConcurrentQueue<string> Lines = new();
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            Lines.Enqueue("scope: " + state);
            return null;
        }
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue($"{logLevel} {eventId} {formatter(state, exception)} | {state} | {exception}");
        public void Dispose() { }
    }

    [Fact]
    public async Task Keys_never_appear_in_the_logs_or_a_settings_dump()
    {
        const string key = "Zq7-never-log-this-key-4f1c";
        var capture = new CaptureLogs();
        var settings = new ServerSettings { ApiKeys = [key, key + "-second"], ProtectHealth = true };
        Assert.DoesNotContain(key, settings.ToString());
        Assert.Contains("redacted", settings.ToString());
        await using (var s = await Start(settings, b =>
                     {
                         b.Logging.ClearProviders();
                         b.Logging.AddProvider(capture);
                     }, logLevel: "Trace"))
        {
            using var keyed = s.Http(key);
            using var wrong = s.Http(key + "x");
            Assert.Equal(200, (await Http.Post(keyed, "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1, \"unknown_field\": 1}")).Status);
            Assert.Equal(401, (await Http.Post(wrong, "v1/completions", Completion)).Status);
            Assert.Equal(200, await Get(keyed, "health"));
            Assert.Equal(400, (await Http.Post(keyed, "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": -1}")).Status);
            var client = new InferenceService.InferenceServiceClient(Channel(s.Grpc));
            Assert.Single((await client.CompleteAsync(Greedy("x", 1), Options(key))).TokenIds);
            await Fails(() => client.CompleteAsync(Greedy("x", 1), Options(key + "x")).ResponseAsync);
        }
        var lines = capture.Lines.ToArray();
        Assert.True(lines.Length > 10, $"the capture saw only {lines.Length} log lines");
        Assert.DoesNotContain(lines, l => l.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public void Key_sources_combine_flags_and_file_and_fall_back_to_the_environment()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "# team keys\n\n  file-one  \n#file-commented\nfile-two\n");
            Func<string, string?> noEnv = _ => null;
            Assert.Equal(["a", "b", "file-one", "file-two"], ApiKeySources.Resolve(["a", "b"], file, noEnv));
            Assert.Equal(["file-one", "file-two"], ApiKeySources.Resolve(null, file, noEnv));
            var env = new Dictionary<string, string?> { ["INFERENCE_API_KEY"] = "from-inference", ["VLLM_API_KEY"] = "from-vllm" };
            Assert.Equal(["from-inference"], ApiKeySources.Resolve([], null, n => env.GetValueOrDefault(n)));
            env.Remove("INFERENCE_API_KEY");
            Assert.Equal(["from-vllm"], ApiKeySources.Resolve([], null, n => env.GetValueOrDefault(n)));
            Assert.Equal(["flag"], ApiKeySources.Resolve(["flag"], null, n => env.GetValueOrDefault(n))); // flags win over the environment
            Assert.Empty(ApiKeySources.Resolve(null, null, noEnv));
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>serve's key-file errors: exit code 2, the full path named, before any model loads.</summary>
[Collection("console")]
public sealed class ApiKeyFileCliTests
{
    private static (int Code, string Err) Serve(params string[] args)
    {
        var (code, _, err) = Cli.ConsoleCapture.Run(["serve", "--device", "cpu", .. args]);
        return (code, err);
    }

    [Fact]
    public void A_missing_key_file_is_named_by_its_full_path()
    {
        string relative = $"no-such-keys-{Guid.NewGuid():N}.txt";
        var (code, err) = Serve("--api-key-file", relative);
        Assert.Equal(2, code);
        Assert.Contains($"--api-key-file {Path.GetFullPath(relative)}: the file does not exist", err);
    }

    [Fact]
    public void An_unreadable_or_empty_key_file_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("keys-").FullName;
        try
        {
            var (code, err) = Serve("--api-key-file", dir); // a folder cannot be read as a file
            Assert.Equal(2, code);
            Assert.Contains($"--api-key-file {dir}: the file cannot be read", err);

            string empty = Path.Combine(dir, "keys.txt");
            File.WriteAllText(empty, "# only a comment\n\n   \n");
            (code, err) = Serve("--api-key-file", empty, "--api-key", "also-given");
            Assert.Equal(2, code);
            Assert.Contains($"--api-key-file {empty}: the file holds no key", err);
            Assert.DoesNotContain("also-given", err);

            (code, err) = Serve("--api-key", "");
            Assert.Equal(2, code);
            Assert.Contains("--api-key: the key is empty", err);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
