using InferenceServer.Engine.Models.Architectures;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.Server.Observability;
using InferenceServer.TestSupport;
using Microsoft.AspNetCore.Builder;
using static TorchSharp.torch;

[assembly: AssemblyFixture(typeof(InferenceServer.Observability.Tests.ObservabilityFixture))]

namespace InferenceServer.Observability.Tests;

/// <summary>A streamed request as the client saw it: its response id, the trace id it sent, and its time to first chunk.</summary>
public sealed record StreamedRequest(string Id, ActivityTraceId TraceId, TimeSpan ClientTtft);

/// <summary>
/// Its own engine (so the histograms hold only this burst) behind the real server, a real Prometheus scraping it,
/// and a listener recording the spans. InitializeAsync sends the whole burst; the tests only inspect.
/// </summary>
public sealed partial class ObservabilityFixture : IAsyncLifetime
{
    public const int Streamed = 4, NonStreamed = 4;

    private LlmEngine _engine = null!;
    public LlmEngine Engine => _engine;
    private WebApplication _app = null!;
    private ActivityListener _listener = null!;
    public PrometheusProcess Prometheus { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public ConcurrentQueue<Activity> Spans { get; } = new();
    public List<StreamedRequest> StreamedRequests { get; } = [];

    /// <summary>TTFT histogram (sum, count) from /metrics just before and just after the streamed requests.</summary>
    public (double Sum, long Count) TtftBefore { get; private set; }
    public (double Sum, long Count) TtftAfter { get; private set; }
    public HttpResponseMessage? TaggedResponse { get; private set; }
    public string FinalScrape { get; private set; } = "";
    public List<int> PlainStatuses { get; private set; } = [];

    public async ValueTask InitializeAsync()
    {
        // Listening to ASP.NET Core's source makes it create a span per HTTP request (continuing the caller's
        // traceparent), which the engine's span must join.
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is MetricNames.Meter or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { if (a.Source.Name == MetricNames.Meter) Spans.Enqueue(a); },
        };
        ActivitySource.AddActivityListener(_listener);

        var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        _engine = new LlmEngine(model, tokenizer, config, new EngineOptions { MaxModelLen = 256, NumKvBlocks = 256 });
        // Started before the host is built, as serve does: building attaches the metrics observer to the running engine.
        _engine.Start();
        // Port 0 for both endpoints: the OS picks free ports at bind time, read back from the started server.
        _app = ServerHost.Build(_engine, new ServerSettings { Host = "127.0.0.1", Port = 0, GrpcPort = 0, ServedModelNames = ["tiny-llama"] }, ["--Logging:LogLevel:Default=Warning"]);
        await _app.StartAsync();
        var (rest, grpc) = await BoundAddresses.RestAndGrpcAsync(_app.Urls);
        _grpcUri = grpc;
        Http = new HttpClient { BaseAddress = rest, Timeout = TimeSpan.FromMinutes(2) };
        // /ready is 503 until the engine has loaded and warmed up; never getting there fails the fixture loudly.
        await Waits.HttpReadyAsync(rest, "ready", ReadyTimeout);

        // Started before the burst so that rates over the burst have samples on both sides.
        Prometheus = await PrometheusProcess.StartAsync(Http.BaseAddress);

        // One streamed request first so JIT of the SSE path does not land inside the measured TTFTs.
        await StreamAsync("warm-up", ActivityTraceId.CreateRandom());
        TtftBefore = Histogram(await ScrapeAsync(), MetricNames.TimeToFirstToken);
        var streamed = Enumerable.Range(0, Streamed).Select(i => StreamAsync($"Observability test prompt number {i}", ActivityTraceId.CreateRandom()));
        StreamedRequests.AddRange(await Task.WhenAll(streamed));
        TtftAfter = Histogram(await ScrapeAsync(), MetricNames.TimeToFirstToken);

        var plain = Enumerable.Range(0, NonStreamed).Select(i => PostAsync(new { prompt = $"Plain request {i}", max_tokens = 4 + i, temperature = 0, ignore_eos = true }, i == 0 ? "obs-test-request-1" : null));
        var responses = await Task.WhenAll(plain);
        TaggedResponse = responses[0];
        PlainStatuses = responses.Select(r => (int)r.StatusCode).ToList();
        foreach (var r in responses.Skip(1)) r.Dispose();
        // A 400 so the error series exist; it never reaches the engine.
        (await PostAsync(new { prompt = "bad", max_tokens = -5 }, null)).Dispose();
        // And a real gRPC INVALID_ARGUMENT (a request without a prompt), so the gRPC error series exists too.
        using (var channel = Grpc.Net.Client.GrpcChannel.ForAddress(_grpcUri))
        {
            var client = new InferenceServer.GrpcApi.V1.InferenceService.InferenceServiceClient(channel);
            try
            {
                await client.CompleteAsync(new InferenceServer.GrpcApi.V1.GenerateRequest());
                throw new InvalidOperationException("a gRPC request without a prompt was accepted");
            }
            catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.InvalidArgument)
            {
            }
        }

        int engineRequests = 1 + Streamed + NonStreamed;
        await WaitForPrometheusAsync(engineRequests);
        FinalScrape = await ScrapeAsync();
    }

    private Uri _grpcUri = null!;

    private async Task<StreamedRequest> StreamAsync(string prompt, ActivityTraceId traceId)
    {
        // logprobs=1 makes every token produce a chunk, so the first chunk is the first token even if its text is empty.
        var body = JsonSerializer.Serialize(new { prompt, max_tokens = 6, temperature = 0, ignore_eos = true, stream = true, logprobs = 1 });
        using var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        req.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        var clock = Stopwatch.StartNew();
        using var response = await Http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        TimeSpan? ttft = null;
        string? id = null;
        for (int lines = 0; lines < 1000 && await reader.ReadLineAsync() is { } line; lines++)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            ttft ??= clock.Elapsed;
            if (line == "data: [DONE]") break;
            id ??= (string?)JsonNode.Parse(line["data: ".Length..])?["id"];
        }
        return new StreamedRequest(id ?? throw new InvalidOperationException("no chunk"), traceId, ttft!.Value);
    }

    private async Task<HttpResponseMessage> PostAsync(object body, string? requestId)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        if (requestId != null) req.Headers.Add(ObservabilitySetup.RequestIdHeader, requestId);
        var response = await Http.SendAsync(req);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    public async Task<string> ScrapeAsync()
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, "metrics");
        req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));
        using var response = await Http.SendAsync(req);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>How long the fixture waits for the server's /ready (tiny-llama on CPU is ready in well under a second).</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Waits (bounded in time and polls) until Prometheus has scraped every finished request, then for two more scrapes.</summary>
    private async Task WaitForPrometheusAsync(int engineRequests)
    {
        await Waits.UntilAsync($"Prometheus counting all {engineRequests} finished requests", TimeSpan.FromSeconds(30),
            ct => Prometheus.ScalarAsync($"sum(inference_request_success_total{{job=\"{PrometheusProcess.Job}\"}})", ct),
            n => n == engineRequests, TimeSpan.FromMilliseconds(250), n => n?.ToString(CultureInfo.InvariantCulture) ?? "no sample");
        string scrapes = $"count_over_time(up{{job=\"{PrometheusProcess.Job}\"}}[1h])";
        double start = await Prometheus.ScalarAsync(scrapes) ?? 0;
        await Waits.UntilAsync($"Prometheus scraping twice more after {start} scrapes", TimeSpan.FromSeconds(15),
            async ct => await Prometheus.ScalarAsync(scrapes, ct) ?? 0,
            n => n >= start + 2, TimeSpan.FromMilliseconds(250), n => $"{n} scrapes");
    }

    /// <summary>The _sum and _count samples of a histogram in Prometheus text format.</summary>
    public static (double Sum, long Count) Histogram(string scrape, string name) =>
        (Sample(scrape, name + "_sum") ?? 0, (long)(Sample(scrape, name + "_count") ?? 0));

    public static double? Sample(string scrape, string name)
    {
        var m = Regex.Match(scrape, "^" + Regex.Escape(name) + @"(\{[^}]*\})? (\S+)", RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : null;
    }

    public async ValueTask DisposeAsync()
    {
        TaggedResponse?.Dispose();
        if (Prometheus != null) await Prometheus.DisposeAsync();
        Http?.Dispose();
        if (_app != null) { await _app.StopAsync(); await _app.DisposeAsync(); }
        _engine?.Dispose();
        _listener?.Dispose();
    }
}
