using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>
/// Shutdown with a drain period (--shutdown-timeout): new requests are refused at once (/ready 503, REST 503 error
/// object, gRPC UNAVAILABLE), a request that finishes within the drain completes normally, and streams still open at
/// the deadline end with an SSE error event then [DONE] (gRPC: UNAVAILABLE) instead of a bare connection reset.
/// </summary>
public sealed class GracefulShutdownTests
{
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Stop_refuses_new_requests_lets_short_ones_finish_and_ends_long_streams_with_an_error_event()
    {
        var ct = TestContext.Current.CancellationToken;
        // Its own engine with a long context, so a stream can outlast the drain; max_tokens bounds the work either way.
        using var engine = ServerFixture.StartEngine(new EngineOptions { MaxModelLen = 2048, NumKvBlocks = 320 });
        var (app, baseUri, grpcUri) = await ServerFixture.Start(engine, new ServerSettings { ServedModelNames = [ServerFixture.Model], ShutdownTimeout = Drain });
        await using var _ = app;
        await Waits.HttpReadyAsync(baseUri, "ready", ServerFixture.ReadyTimeout, ct);
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromMinutes(1) };
        var grpc = new InferenceService.InferenceServiceClient(Channel(grpcUri));

        // Running before shutdown: a long REST stream, a long gRPC stream, and a short REST stream.
        using var longSse = await OpenSse(http, 2000, ct);
        using var shortSse = await OpenSse(http, 16, ct);
        using var longGrpc = grpc.Generate(Greedy("The film was", 2000), Options());
        Assert.True(await longGrpc.ResponseStream.MoveNext(ct));

        var clock = Stopwatch.StartNew();
        var stop = app.StopAsync(CancellationToken.None);

        // Admission stops at once while the ports stay open: /ready 503, new requests 503 / UNAVAILABLE.
        await Waits.UntilAsync("/ready answering 503 during the drain", TimeSpan.FromSeconds(10),
            async t => (await http.GetAsync("ready", t)).StatusCode == HttpStatusCode.ServiceUnavailable, cancellationToken: ct);
        var (status, body, _) = await Http.Post(http, "v1/completions", new { prompt = "Hello", max_tokens = 2 });
        Assert.Equal(503, status);
        Assert.Equal("service_unavailable", (string?)body!["error"]!["code"]);
        Assert.Contains("shutting down", (string?)body["error"]!["message"]);
        var refused = await Fails(() => grpc.CompleteAsync(Greedy("Hello", 2), Options()).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("shutting down", refused.Status.Detail);
        Assert.True(clock.Elapsed < Drain, $"the refusals took {clock.Elapsed}, longer than the drain: the test cannot tell the phases apart");

        // The short stream finishes normally inside the drain.
        var shortEvents = await ReadAll(shortSse, ct);
        Assert.Equal("[DONE]", shortEvents[^1]);
        Assert.Equal("length", (string?)JsonNode.Parse(shortEvents[^2])!["choices"]![0]!["finish_reason"]);
        Assert.DoesNotContain(shortEvents, e => e.Contains("\"error\""));

        // The long ones are cut at the deadline: an error event then [DONE]; gRPC UNAVAILABLE with a message.
        var longEvents = await ReadAll(longSse, ct);
        var cutAfter = clock.Elapsed;
        Assert.True(longEvents.Count > 2, "the long stream produced nothing before the cut");
        Assert.Equal("[DONE]", longEvents[^1]);
        var error = JsonNode.Parse(longEvents[^2])!["error"];
        Assert.NotNull(error);
        Assert.Equal("service_unavailable", (string?)error["code"]);
        Assert.Contains("--shutdown-timeout", (string?)error["message"]);
        Assert.All(longEvents[..^2], e => Assert.Null(JsonNode.Parse(e)!["choices"]![0]!["finish_reason"]));
        Assert.True(cutAfter >= Drain - TimeSpan.FromMilliseconds(100), $"the long stream ended after {cutAfter}, before the {Drain} drain");

        var cut = await Fails(async () => { while (await longGrpc.ResponseStream.MoveNext(ct)) { } });
        Assert.Equal(StatusCode.Unavailable, cut.StatusCode);
        Assert.Contains("--shutdown-timeout", cut.Status.Detail);

        // The host stops soon after the deadline, well within its own limit (drain + the final-write grace).
        await stop.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.True(clock.Elapsed < Drain + TimeSpan.FromSeconds(4), $"stopping took {clock.Elapsed}");
        // The cut streams were aborted in the engine too: nothing keeps generating for nobody.
        await Waits.UntilAsync("the engine idle after the cut", TimeSpan.FromSeconds(10),
            _ => Task.FromResult(engine.GetLoad()), l => l is { Running: 0, Waiting: 0 }, TimeSpan.FromMilliseconds(20),
            l => $"{l.Running} running, {l.Waiting} waiting", ct);
    }

    private sealed class Sse(HttpResponseMessage response, StreamReader reader, List<string> seen) : IDisposable
    {
        public StreamReader Reader => reader;
        public List<string> Seen => seen;
        public void Dispose()
        {
            reader.Dispose();
            response.Dispose();
        }
    }

    /// <summary>Starts a greedy streamed completion and reads its first event, so it is running when this returns.</summary>
    private static async Task<Sse> OpenSse(HttpClient http, int maxTokens, CancellationToken ct)
    {
        var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent($"{{\"prompt\": \"The film was\", \"max_tokens\": {maxTokens}, \"ignore_eos\": true, \"temperature\": 0, \"stream\": true}}",
                Encoding.UTF8, "application/json"),
        };
        var response = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sse = new Sse(response, new StreamReader(await response.Content.ReadAsStreamAsync(ct)), []);
        while (sse.Seen.Count == 0 && await sse.Reader.ReadLineAsync(ct) is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) sse.Seen.Add(line["data: ".Length..]);
        Assert.NotEmpty(sse.Seen);
        return sse;
    }

    /// <summary>Every event's data to the end of the stream (bounded: the test's token and a 30 s limit).</summary>
    private static async Task<List<string>> ReadAll(Sse sse, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        while (await sse.Reader.ReadLineAsync(limit.Token) is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal)) sse.Seen.Add(line["data: ".Length..]);
        return sse.Seen;
    }
}
