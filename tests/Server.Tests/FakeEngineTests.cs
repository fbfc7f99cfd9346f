using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>States the real engine rarely shows on demand (loading, full queue), through a stand-in engine.</summary>
public sealed class FakeEngineTests
{
    [Fact]
    public async Task Loading_is_503_and_a_full_queue_is_429_with_retry_after()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var engine = new StandInEngine(tokenizer, config);
        int port = ServerFixture.FreePort();
        await using var app = ServerHost.Build(engine, new ServerSettings { Host = "127.0.0.1", Port = port, GrpcPort = 0 }, ["--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        const string req = "{\"prompt\": \"hi\", \"max_tokens\": 2}";

        var (status, body, _) = await Http.Post(http, "v1/completions", req);
        Assert.Equal(503, status);
        Assert.NotNull(body!["error"]);

        engine.Ready = true;
        var (status2, body2, response) = await Http.Post(http, "v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");
        Assert.Equal(429, status2);
        Assert.NotNull(body2!["error"]!["message"]);
        Assert.True(response.Headers.Contains("Retry-After"));
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>
    /// The engine here has no prefix cache yet, so the real one always reports 0 cached tokens; a stand-in that reports
    /// some shows they reach usage.prompt_tokens_details, counted once per prompt like prompt_tokens.
    /// </summary>
    [Fact]
    public async Task Cached_prompt_tokens_reach_usage_once_per_prompt()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var engine = new StandInEngine(tokenizer, config) { Ready = true, Generate = r => One(r) };
        int port = ServerFixture.FreePort();
        await using var app = ServerHost.Build(engine, new ServerSettings { Host = "127.0.0.1", Port = port }, ["--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        var (s1, completion, _) = await Http.Post(http, "v1/completions", "{\"prompt\": [\"The film was\", \"Hi\"], \"n\": 2}");
        Assert.Equal(200, s1);
        Assert.Equal(4, completion!["choices"]!.AsArray().Count);
        Assert.Equal(2 * 3, (int)completion["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        var (s2, chat, _) = await Http.Post(http, "v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 2}");
        Assert.Equal(200, s2);
        Assert.Equal(3, (int)chat!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    private static async IAsyncEnumerable<GenerationOutput> One(GenerationRequest r)
    {
        await Task.Yield();
        yield return new GenerationOutput([5], "x", null, FinishReason.Length, new GenerationUsage(r.PromptTokenIds.Count, 1, 3));
    }
}
