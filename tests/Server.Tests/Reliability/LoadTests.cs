using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.Server.Tests.Grpc;
using InferenceServer.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// A bounded load test against the real server: 2,000 requests from 64 concurrent clients, mixing REST completions
/// and chat (streamed and not) with gRPC Generate and Complete, greedy and seeded sampling, and about one stream in
/// seven dropped by its client after the first event. Every answer that was not dropped must be complete and
/// well-formed (ignore_eos makes each one exactly max_tokens long, 1 to 3 tokens), no answer may be a 5xx, the engine must be idle
/// afterwards (nothing running or waiting, every KV block free, no request still admitted), and the process's
/// working set may grow by at most <see cref="MemoryGrowthBound"/>.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class LoadTests
{
    private const int Requests = 2_000;
    private const int Concurrency = 64;

    /// <summary>The working set's growth allowed over the run (tiny-llama's weights and KV pool are allocated before it starts).</summary>
    private const long MemoryGrowthBound = 256L << 20;

    private enum Kind { Completion, CompletionStream, Chat, ChatStream, GrpcComplete, GrpcGenerate }

    private sealed record Outcome(Kind Kind, int Status, bool Dropped, double Ms, string? Problem);

    [Fact]
    public async Task Two_thousand_mixed_requests_at_64_concurrent_complete_cleanly_and_leave_the_engine_idle()
    {
        await using var server = await IsolatedServer.StartAsync(new ServerSettings { MaxConcurrentRequests = 320, MaxConcurrentRequestsPerClient = 160 });
        using var http = server.Http();
        using var channel = GrpcTestSupport.Channel(server.Grpc);
        var grpc = new InferenceService.InferenceServiceClient(channel);
        var idleFree = server.Engine.GetLoad().KvBlocksFree;
        using var self = Process.GetCurrentProcess();
        GC.Collect();
        self.Refresh();
        long before = self.WorkingSet64, peak = before;
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                self.Refresh();
                peak = Math.Max(peak, self.WorkingSet64);
                try { await Task.Delay(100, sampling.Token); } catch (OperationCanceledException) { }
            }
        }, TestContext.Current.CancellationToken);

        int next = -1;
        var outcomes = new Outcome[Requests];
        var clock = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(3));   // bounded in time as well as in count
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < Requests;)
                outcomes[i] = await One(i, http, grpc, deadline.Token);
        }, TestContext.Current.CancellationToken)));
        double seconds = clock.Elapsed.TotalSeconds;

        var load = await GrpcTestSupport.WaitIdle(grpc, TimeSpan.FromSeconds(30));
        await Waits.UntilAsync("no request still admitted", TimeSpan.FromSeconds(10),
            _ => Task.FromResult(server.App.Services.GetRequiredService<AdmissionControl>().Admitted), n => n == 0,
            TimeSpan.FromMilliseconds(20), n => $"{n} admitted", TestContext.Current.CancellationToken);
        await sampling.CancelAsync();
        await sampler;
        GC.Collect();
        self.Refresh();
        long after = self.WorkingSet64;

        var served = outcomes.Where(o => !o.Dropped).ToArray();
        var latencies = served.Select(o => o.Ms).Order().ToArray();
        double P(double q) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(q * latencies.Length) - 1)];
        var figures = $"load: {Requests} requests, {Concurrency} concurrent, {seconds:F1} s ({Requests / seconds:F0} req/s); " +
                      $"{outcomes.Count(o => o.Dropped)} dropped mid-stream by their client, {served.Count(o => o.Problem is not null)} errors, " +
                      $"{outcomes.Count(o => o.Status >= 500)} 5xx; latency p50 {P(0.5):F0} ms, p99 {P(0.99):F0} ms; " +
                      $"working set {before >> 20} MiB before, peak {peak >> 20} MiB, {after >> 20} MiB after (bound +{MemoryGrowthBound >> 20} MiB); " +
                      $"by kind: {string.Join(", ", outcomes.GroupBy(o => o.Kind).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"))}";
        Figures.Report(figures);

        Assert.All(outcomes, o => Assert.True(o.Status < 500, $"{o.Kind}: {o.Status} {o.Problem}"));
        Assert.All(served, o => Assert.True(o.Problem is null, $"{o.Kind}: {o.Problem}"));
        Assert.True(outcomes.Count(o => o.Dropped) > Requests / 40, "clients dropped streams mid-way");
        Assert.Equal(idleFree, load.KvBlocksFree);
        Assert.True(peak - before < MemoryGrowthBound, figures);
    }

    /// <summary>One request of the mix, checked; what it saw.</summary>
    private static async Task<Outcome> One(int i, HttpClient http, InferenceService.InferenceServiceClient grpc, CancellationToken ct)
    {
        var rng = new Random(i);
        var kind = (Kind)(i % 6);
        int maxTokens = 1 + rng.Next(3);
        bool greedy = rng.Next(2) == 0;
        bool drop = kind is Kind.CompletionStream or Kind.ChatStream or Kind.GrpcGenerate && rng.Next(5) == 0 && maxTokens > 1;
        var sw = Stopwatch.StartNew();
        try
        {
            var (status, problem) = kind switch
            {
                Kind.Completion or Kind.Chat => await Rest(http, kind, maxTokens, greedy, i, ct),
                Kind.CompletionStream or Kind.ChatStream => await RestStream(http, kind, maxTokens, greedy, i, drop, ct),
                Kind.GrpcComplete => (200, CheckTokens((await grpc.CompleteAsync(GrpcRequest(maxTokens, greedy, i), Options(ct))).TokenIds.Count, maxTokens)),
                _ => await GrpcStream(grpc, maxTokens, greedy, i, drop, ct),
            };
            return new Outcome(kind, status, drop && problem is null, sw.Elapsed.TotalMilliseconds, problem);
        }
        catch (RpcException e)
        {
            return new Outcome(kind, e.StatusCode is StatusCode.Internal or StatusCode.Unknown or StatusCode.Unavailable ? 500 : 400, false, sw.Elapsed.TotalMilliseconds, $"gRPC {e.StatusCode}: {e.Status.Detail}");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or IOException)
        {
            return new Outcome(kind, 0, false, sw.Elapsed.TotalMilliseconds, e.GetType().Name + ": " + e.Message);
        }
    }

    private static CallOptions Options(CancellationToken ct) => new(deadline: DateTime.UtcNow.AddMinutes(2), cancellationToken: ct);

    private static string? CheckTokens(int got, int expected) => got == expected ? null : $"{got} tokens, expected {expected}";

    private static object Body(Kind kind, int maxTokens, bool greedy, int i, bool stream)
    {
        var sampling = new Dictionary<string, object> { ["max_tokens"] = maxTokens, ["ignore_eos"] = true, ["temperature"] = greedy ? 0 : 0.8, ["seed"] = i, ["stream"] = stream };
        if (stream) sampling["stream_options"] = new { include_usage = true };
        if (kind is Kind.Chat or Kind.ChatStream) sampling["messages"] = new[] { new { role = "user", content = $"Request {i}: tell me about committees." } };
        else sampling["prompt"] = $"Request {i}: the committee";
        return sampling;
    }

    private static async Task<(int, string?)> Rest(HttpClient http, Kind kind, int maxTokens, bool greedy, int i, CancellationToken ct)
    {
        string path = kind == Kind.Chat ? "v1/chat/completions" : "v1/completions";
        using var content = new StringContent(JsonSerializer.Serialize(Body(kind, maxTokens, greedy, i, false)), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(path, content, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if ((int)response.StatusCode != 200) return ((int)response.StatusCode, text);
        var body = JsonNode.Parse(text)!;
        string expectedObject = kind == Kind.Chat ? "chat.completion" : "text_completion";
        if ((string?)body["object"] != expectedObject) return (200, "object: " + text);
        if ((string?)body["choices"]![0]!["finish_reason"] != "length") return (200, "finish_reason: " + text);
        if (kind == Kind.Chat ? body["choices"]![0]!["message"]?["content"] is null : body["choices"]![0]!["text"] is null) return (200, "no text: " + text);
        return (200, CheckTokens((int)body["usage"]!["completion_tokens"]!, maxTokens));
    }

    private static async Task<(int, string?)> RestStream(HttpClient http, Kind kind, int maxTokens, bool greedy, int i, bool drop, CancellationToken ct)
    {
        string path = kind == Kind.ChatStream ? "v1/chat/completions" : "v1/completions";
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(JsonSerializer.Serialize(Body(kind, maxTokens, greedy, i, true)), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if ((int)response.StatusCode != 200) return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        var events = new List<string>();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0) continue;
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) return (200, "not an SSE data line: " + line);
            events.Add(line["data: ".Length..]);
            if (drop) return (200, null);   // the client goes away after the first event; disposing the response aborts it
        }
        if (events.Count < 2 || events[^1] != "[DONE]") return (200, "stream did not end with [DONE]: " + string.Join(" | ", events));
        var chunks = events.SkipLast(1).Select(e => JsonNode.Parse(e)!).ToList();
        if (chunks.Any(c => c["error"] is not null)) return (200, "error event: " + string.Join(" | ", events));
        if (chunks.Select(c => (string?)c["choices"]?.AsArray().FirstOrDefault()?["finish_reason"]).LastOrDefault(f => f is not null) != "length")
            return (200, "no finish_reason length: " + string.Join(" | ", events));
        return (200, CheckTokens((int?)chunks[^1]["usage"]?["completion_tokens"] ?? -1, maxTokens));
    }

    private static async Task<(int, string?)> GrpcStream(InferenceService.InferenceServiceClient grpc, int maxTokens, bool greedy, int i, bool drop, CancellationToken ct)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = grpc.Generate(GrpcRequest(maxTokens, greedy, i), Options(cancel.Token));
        int tokens = 0;
        GenerateResponse? last = null;
        try
        {
            while (await call.ResponseStream.MoveNext(cancel.Token))
            {
                last = call.ResponseStream.Current;
                tokens += last.TokenIds.Count;
                if (drop)
                {
                    await cancel.CancelAsync();
                    return (200, null);
                }
            }
        }
        catch (RpcException e) when (drop && e.StatusCode == StatusCode.Cancelled)
        {
            return (200, null);
        }
        if (last?.Finish?.Reason != FinishReason.Length) return (200, "no LENGTH finish: " + last);
        return (200, CheckTokens(tokens, maxTokens));
    }

    private static GenerateRequest GrpcRequest(int maxTokens, bool greedy, int i) => new()
    {
        Text = $"Request {i}: the committee",
        Sampling = new SamplingParameters { MaxTokens = maxTokens, IgnoreEos = true, Temperature = greedy ? 0 : 0.8f, Seed = i },
    };
}

/// <summary>The heavy reliability tests (load, overload, child server processes) run one at a time.</summary>
[CollectionDefinition(nameof(ReliabilityCollection), DisableParallelization = true)]
public sealed class ReliabilityCollection;
