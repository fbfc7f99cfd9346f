using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Tests.Grpc;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// A CUDA out-of-memory error inside an engine step, injected on CPU through INFERENCE_INJECT_OOM_STEPS (the runner
/// throws what TorchSharp throws when CUDA cannot allocate, at the 2nd, 7th and 9th steps): the request in the failing
/// step gets 503 with an error object (mid-stream: an SSE error event; gRPC: UNAVAILABLE), and the server keeps
/// serving: the requests after each fault are answered, greedy output is unchanged, the KV pool is whole again, and
/// /metrics counts the three faults. Requests run one at a time so each step number is known: a 3-token request takes
/// its prefill step plus two decode steps.
/// </summary>
[Collection(nameof(ReliabilityCollection))]
public sealed class OutOfMemoryStepTests
{
    private const string Prompt = "The committee";

    [Fact]
    public async Task An_out_of_memory_step_fails_its_request_with_503_and_serving_continues()
    {
        await using var server = await ChildServer.StartAsync(["--num-kv-blocks", "256", "--max-model-len", "512"],
            new Dictionary<string, string> { ["INFERENCE_INJECT_OOM_STEPS"] = "2,7,9" });
        using var http = new HttpClient { BaseAddress = server.Rest, Timeout = TimeSpan.FromMinutes(2) };
        using var channel = GrpcTestSupport.Channel(server.Grpc);
        var grpc = new InferenceService.InferenceServiceClient(channel);
        var ct = TestContext.Current.CancellationToken;
        var greedy = new { prompt = Prompt, max_tokens = 3, temperature = 0, ignore_eos = true };

        // Steps 1-2: prefill, then the fault in its first decode step.
        var (status, body, _) = await Http.Post(http, "v1/completions", greedy);
        Assert.True(status == 503, $"{status} {body}\n{server.Output}");
        Assert.Equal("server_error", (string?)body!["error"]!["type"]);
        Assert.Equal("service_unavailable", (string?)body["error"]!["code"]);
        Assert.Contains("ran out of memory", (string?)body["error"]!["message"]);

        // Steps 3-5: served.
        (status, body, _) = await Http.Post(http, "v1/completions", greedy);
        Assert.Equal(200, status);
        string text = (string)body!["choices"]![0]!["text"]!;

        // Steps 6-7: a stream gets its first token, then the fault: an error event and [DONE].
        var events = await Sse(http, new { prompt = Prompt, max_tokens = 3, temperature = 0, ignore_eos = true, stream = true }, ct);
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal("service_unavailable", (string?)JsonNode.Parse(events[^2])!["error"]!["code"]);
        Assert.NotNull(JsonNode.Parse(events[0])!["choices"]);

        // Steps 8-9: gRPC gets UNAVAILABLE.
        var e = await Assert.ThrowsAsync<RpcException>(() => grpc.CompleteAsync(GrpcTestSupport.Greedy(Prompt, 3), GrpcTestSupport.Options()).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains("ran out of memory", e.Status.Detail);

        // Steps 10-12: the same greedy answer as before the faults, and the engine is whole again.
        (status, body, _) = await Http.Post(http, "v1/completions", greedy);
        Assert.Equal(200, status);
        Assert.Equal(text, (string)body!["choices"]![0]!["text"]!);
        await GrpcTestSupport.WaitIdle(grpc, TimeSpan.FromSeconds(10));
        string metrics = await http.GetStringAsync("metrics", ct);
        var line = metrics.Split('\n').Single(l => l.StartsWith("inference_out_of_memory_steps_total{", StringComparison.Ordinal));
        Assert.Contains("model_name=\"tiny-llama\"", line);
        Assert.Matches(@"\} 3(\s|$)", line);
        Assert.Contains("ran out of device memory", server.Output);
    }

    private static async Task<List<string>> Sse(HttpClient http, object body, CancellationToken ct)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("v1/completions", content, ct);
        Assert.Equal(200, (int)response.StatusCode);
        var text = await response.Content.ReadAsStringAsync(ct);
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
    }
}
