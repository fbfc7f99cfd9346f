using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Cli;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.Server.Tests.Grpc;
using InferenceServer.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// The per-request log line (one information line per request that got past the door, none for refusals, framework
/// request logs silent at information), admission at the door (per-client 429 with Retry-After over REST,
/// RESOURCE_EXHAUSTED with grpc-retry-pushback-ms over gRPC, other clients still admitted), CORS, and the drain-rate
/// arithmetic behind Retry-After.
/// </summary>
public sealed partial class RequestLogAndAdmissionTests(ServerFixture server)
{
    private const string Completion = "{\"prompt\": \"The committee\", \"max_tokens\": 2, \"temperature\": 0, \"ignore_eos\": true}";

    private sealed class CaptureLogs : ILoggerProvider
    {
        public readonly ConcurrentQueue<(string Category, LogLevel Level, string Text)> Lines = new();
        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
        public void Dispose() { }

        private sealed class Logger(CaptureLogs owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }

    private async Task<(WebApplication App, Uri RestUri, Uri GrpcUri)> Start(ServerSettings settings, CaptureLogs? capture = null)
    {
        // No Logging:LogLevel configuration here: the levels are the ones --log-level sets.
        var app = ServerHost.Build(server.Engine, settings with { Host = "127.0.0.1", Port = 0, GrpcPort = 0, ServedModelNames = [ServerFixture.Model] }, [], b =>
        {
            if (capture is null) return;
            b.Logging.ClearProviders();
            b.Logging.AddProvider(capture);
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        var (rest, grpc) = await BoundAddresses.RestAndGrpcAsync(app.Urls, TestContext.Current.CancellationToken);
        return (app, rest, grpc);
    }

    [GeneratedRegex(@"^(POST|GET) \S+ \S+( \(client gone\))? \d+\+\d+ tokens \d+\.\d ms$")]
    private static partial Regex LogLine();

    [Fact]
    public async Task One_information_line_per_admitted_request_and_none_for_refusals()
    {
        var capture = new CaptureLogs();
        var (app, rest, grpcUri) = await Start(new ServerSettings { ApiKeys = ["good"], MaxConcurrentRequestsPerClient = 4 }, capture);
        await using (app)
        {
            using var good = new HttpClient { BaseAddress = rest };
            good.DefaultRequestHeaders.Authorization = Http.Bearer("good");
            using var bad = new HttpClient { BaseAddress = rest };
            bad.DefaultRequestHeaders.Authorization = Http.Bearer("wrong");
            Assert.Equal(200, (await Http.Post(good, "v1/completions", Completion)).Status);
            Assert.Equal(400, (await Http.Post(good, "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": -1}")).Status);
            Assert.Equal(401, (await Http.Post(bad, "v1/completions", Completion)).Status);
            Assert.Equal(200, (int)(await good.GetAsync("health", TestContext.Current.CancellationToken)).StatusCode);
            using var channel = GrpcTestSupport.Channel(grpcUri);
            var client = new InferenceService.InferenceServiceClient(channel);
            Assert.Equal(2, (await client.CompleteAsync(GrpcTestSupport.Greedy("The committee", 2), GrpcTestSupport.Options("good"))).TokenIds.Count);
            await app.StopAsync(TestContext.Current.CancellationToken);
        }
        var info = capture.Lines.Where(l => l.Category == RequestLog.Category && l.Level == LogLevel.Information).Select(l => l.Text).ToList();
        Assert.Equal(3, info.Count);
        Assert.All(info, l => Assert.Matches(LogLine(), l));
        Assert.Matches(@"^POST /v1/completions 200 \d+\+2 tokens", info[0]);
        Assert.StartsWith("POST /v1/completions 400 0+0 tokens", info[1]);
        Assert.Matches(@"^POST /inference\.v1\.InferenceService/Complete OK \d+\+2 tokens", info[2]);
        Assert.DoesNotContain(capture.Lines, l => l.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) && l.Level < LogLevel.Warning);
        Assert.DoesNotContain(capture.Lines, l => l.Text.Contains("good", StringComparison.Ordinal));   // the key is never logged
    }

    [Fact]
    public async Task A_client_over_its_limit_gets_429_with_retry_after_and_other_clients_are_still_admitted()
    {
        var (app, rest, grpcUri) = await Start(new ServerSettings { ApiKeys = ["a", "b"], MaxConcurrentRequestsPerClient = 1, MaxConcurrentRequests = 8 });
        await using (app)
        {
            var ct = TestContext.Current.CancellationToken;
            using var a = new HttpClient { BaseAddress = rest };
            a.DefaultRequestHeaders.Authorization = Http.Bearer("a");
            using var b = new HttpClient { BaseAddress = rest };
            b.DefaultRequestHeaders.Authorization = Http.Bearer("b");

            // Client a holds its one slot with a long stream, read until its first event.
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = new StringContent("{\"prompt\": \"The committee\", \"max_tokens\": 200, \"ignore_eos\": true, \"stream\": true}", Encoding.UTF8, "application/json"),
            };
            using var held = await a.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            using var reader = new StreamReader(await held.Content.ReadAsStreamAsync(ct));
            Assert.StartsWith("data: ", await reader.ReadLineAsync(ct));

            var (status, body, response) = await Http.Post(a, "v1/completions", Completion);
            Assert.Equal(429, status);
            Assert.Equal("requests", (string?)body!["error"]!["type"]);
            Assert.Equal("rate_limit_exceeded", (string?)body["error"]!["code"]);
            Assert.Contains("--max-concurrent-requests-per-client", (string?)body["error"]!["message"]);
            Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);

            using var channel = GrpcTestSupport.Channel(grpcUri);
            var client = new InferenceService.InferenceServiceClient(channel);
            using var call = client.CompleteAsync(GrpcTestSupport.Greedy("x", 1), GrpcTestSupport.Options("a"));
            var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            Assert.NotNull(e.Trailers.GetValue("grpc-retry-pushback-ms"));

            // Client b is admitted meanwhile, over REST and gRPC.
            Assert.Equal(200, (await Http.Post(b, "v1/completions", Completion)).Status);
            Assert.Single((await client.CompleteAsync(GrpcTestSupport.Greedy("x", 1), GrpcTestSupport.Options("b"))).TokenIds);
            held.Dispose();   // a's stream ends; its slot is free again
            await Waits.UntilAsync("client a admitted again", TimeSpan.FromSeconds(30),
                async t => (await Http.Post(a, "v1/completions", Completion)).Status, s => s == 200, TimeSpan.FromMilliseconds(50), s => $"{s}", ct);
        }
    }

    [Fact]
    public async Task Cors_answers_preflight_for_allowed_origins_only_and_is_off_by_default()
    {
        var (app, rest, _) = await Start(new ServerSettings { AllowedOrigins = ["https://app.example"], ApiKeys = ["k"] });
        await using (app)
        {
            using var http = new HttpClient { BaseAddress = rest };
            async Task<HttpResponseMessage> Preflight(string origin)
            {
                using var r = new HttpRequestMessage(HttpMethod.Options, "v1/completions");
                r.Headers.Add("Origin", origin);
                r.Headers.Add("Access-Control-Request-Method", "POST");
                r.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
                return await http.SendAsync(r, TestContext.Current.CancellationToken);
            }
            using var allowed = await Preflight("https://app.example");
            Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);   // answered before the key check: browsers send no key in preflight
            Assert.Equal("https://app.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
            using var other = await Preflight("https://evil.example");
            Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
        }
        using var plain = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(Completion, Encoding.UTF8, "application/json") };
        plain.Headers.Add("Origin", "https://app.example");
        using var response = await server.Http.SendAsync(plain, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    private sealed class ManualClock : TimeProvider
    {
        public long Ticks;
        public override long GetTimestamp() => Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }

    [Fact]
    public void Retry_after_is_the_queue_ahead_over_the_measured_drain_rate()
    {
        var clock = new ManualClock();
        var rate = new DrainRate(clock);
        Assert.Equal(DrainRate.UnknownRateSeconds, rate.RetryAfterSeconds(10));   // nothing finished yet: no rate to go by
        for (int i = 0; i < 40; i++)   // 40 finishes over 20 s: 2 per second
        {
            clock.Ticks += TimeSpan.TicksPerSecond / 2;
            rate.Finished();
        }
        Assert.Equal(2.0, rate.PerSecond, 3);
        Assert.Equal(5, rate.RetryAfterSeconds(10));     // 10 ahead at 2/s
        Assert.Equal(1, rate.RetryAfterSeconds(0.5));
        Assert.Equal(60, rate.RetryAfterSeconds(10_000)); // capped
        clock.Ticks += TimeSpan.TicksPerSecond * 31;      // the window has passed with no finish
        Assert.Equal(DrainRate.UnknownRateSeconds, rate.RetryAfterSeconds(10));
    }
}

/// <summary>The new serve flags: bad values are one clear error line and exit code 2, before any model loads.</summary>
[Collection("console")]
public sealed class ServeProtectionFlagTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => Cli.ConsoleCapture.Run(args);

    [Fact]
    public void Help_lists_the_admission_logging_and_cors_flags()
    {
        var (code, output, _) = Run("serve", "--help");
        Assert.Equal(0, code);
        foreach (var flag in new[] { "--max-concurrent-requests", "--max-concurrent-requests-per-client", "--log-level", "--allowed-origins", "--allowed-methods", "--allowed-headers", "--allow-credentials" })
            Assert.Contains(flag, output);
    }

    [Theory]
    [InlineData("--log-level loud", "--log-level loud: expected")]
    [InlineData("--max-concurrent-requests -1", "--max-concurrent-requests must be 0 (no limit) or more")]
    [InlineData("--allow-credentials", "--allow-credentials needs explicit --allowed-origins")]
    [InlineData("--allow-credentials --allowed-origins *", "--allow-credentials needs explicit --allowed-origins")]
    public void Bad_values_are_refused_before_loading(string args, string message)
    {
        var (code, output, err) = Run(["serve", "--device", "cpu", "--model", "/nonexistent-model-dir", .. args.Split(' ')]);
        Assert.NotEqual(0, code);
        Assert.Contains(message, output + err);
        Assert.DoesNotContain("nonexistent-model-dir", output + err);   // refused before the model path was looked at
    }
}
