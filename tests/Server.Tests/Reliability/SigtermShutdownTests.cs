using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Tests.Grpc;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// SIGTERM to the real server process under load, with <c>--shutdown-timeout 8</c>: streams that can finish within the
/// drain period finish normally (finish_reason and usage, then [DONE]); streams that cannot are cut at the deadline
/// with a visible error event (then [DONE]; gRPC: UNAVAILABLE); a request arriving after the signal gets 503 with an
/// error object; and the process exits 0 once the drain is over.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class SigtermShutdownTests
{
    private const double Drain = 8;

    [Fact]
    public async Task Sigterm_under_load_finishes_what_fits_the_drain_cuts_the_rest_visibly_and_exits_0()
    {
        await using var server = await ChildServer.StartAsync(["--shutdown-timeout", $"{Drain}", "--num-kv-blocks", "512", "--max-model-len", "2048"]);
        using var http = new HttpClient { BaseAddress = server.Rest, Timeout = TimeSpan.FromMinutes(2) };
        var ct = TestContext.Current.CancellationToken;

        // Short streams (finish in well under the drain) and long ones (cannot), all running when the signal comes.
        var started = new List<TaskCompletionSource>();
        TaskCompletionSource Started() { var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); lock (started) started.Add(t); return t; }
        var shorts = Enumerable.Range(0, 6).Select(i => Stream(http, 12, i, Started(), ct)).ToList();
        var longs = Enumerable.Range(0, 3).Select(i => Stream(http, 1500, 100 + i, Started(), ct)).ToList();
        using var channel = GrpcTestSupport.Channel(server.Grpc);
        var grpcLong = GrpcStream(new InferenceService.InferenceServiceClient(channel), Started(), ct);
        await Task.WhenAll(started.Select(s => s.Task)).WaitAsync(TimeSpan.FromSeconds(60), ct);

        var sw = Stopwatch.StartNew();
        server.Terminate();
        await Task.Delay(300, ct);
        var (status, body, _) = await Http.Post(http, "v1/completions", new { prompt = "late", max_tokens = 1 });
        Assert.Equal(503, status);
        Assert.Equal("service_unavailable", (string?)body!["error"]!["code"]);

        var shortEvents = await Task.WhenAll(shorts);
        var longEvents = await Task.WhenAll(longs);
        var grpcStatus = await grpcLong;
        int? exit = await server.WaitExitAsync(TimeSpan.FromSeconds(Drain + 20));
        var figures = $"sigterm: {shorts.Count} short streams finished, {longs.Count} long streams and 1 gRPC stream cut; exit {exit?.ToString() ?? "none"} " +
                      $"{sw.Elapsed.TotalSeconds:F1} s after SIGTERM (drain {Drain} s)";
        Figures.Report(figures);

        foreach (var events in shortEvents)
        {
            Assert.Equal("[DONE]", events[^1]);
            var chunks = events.SkipLast(1).Select(e => JsonNode.Parse(e)!).ToList();
            Assert.DoesNotContain(chunks, c => c["error"] is not null);
            Assert.Equal(12, (int)chunks[^1]["usage"]!["completion_tokens"]!);
        }
        foreach (var events in longEvents)
        {
            Assert.Equal("[DONE]", events[^1]);
            var error = JsonNode.Parse(events[^2])!["error"];
            Assert.True(error is not null, "the last event before [DONE] is an error: " + string.Join(" | ", events.TakeLast(3)));
            Assert.Equal("service_unavailable", (string?)error["code"]);
            Assert.Contains("--shutdown-timeout", (string?)error["message"]);
        }
        Assert.Equal(StatusCode.Unavailable, grpcStatus);
        Assert.True(exit == 0, $"exit code {exit?.ToString() ?? "none (still running)"}:\n{server.Output}");
        Assert.True(sw.Elapsed.TotalSeconds >= Drain * 0.9, $"exited {sw.Elapsed} after SIGTERM, before the drain period");
    }

    /// <summary>A streamed completion's SSE data payloads; <paramref name="started"/> is set at the first event.</summary>
    private static async Task<List<string>> Stream(HttpClient http, int maxTokens, int seed, TaskCompletionSource started, CancellationToken ct)
    {
        var body = new { prompt = $"Story {seed}: the committee", max_tokens = maxTokens, ignore_eos = true, temperature = 0.8, seed, stream = true, stream_options = new { include_usage = true } };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(200, (int)response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        var events = new List<string>();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            events.Add(line["data: ".Length..]);
            started.TrySetResult();
        }
        return events;
    }

    private static async Task<StatusCode> GrpcStream(InferenceService.InferenceServiceClient client, TaskCompletionSource started, CancellationToken ct)
    {
        using var call = client.Generate(GrpcTestSupport.Greedy("A long gRPC story", 1500), new CallOptions(deadline: DateTime.UtcNow.AddMinutes(2), cancellationToken: ct));
        try
        {
            while (await call.ResponseStream.MoveNext(ct)) started.TrySetResult();
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }
}
