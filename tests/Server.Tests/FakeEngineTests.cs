using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>
/// States the real engine rarely shows on demand (loading, full queue), through a stand-in engine behind the real
/// server, started on loopback ports the OS picks (<see cref="ServerFixture.Start"/>).
/// </summary>
public sealed class FakeEngineTests
{
    [Fact]
    public async Task Loading_is_503_and_a_full_queue_is_429_with_retry_after()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var engine = new StandInEngine(tokenizer, config);
        var started = await ServerFixture.Start(engine, new ServerSettings());
        await using var app = started.App;
        using var http = new HttpClient { BaseAddress = started.BaseUri };
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
    /// The fixtures' readiness wait (<see cref="Waits.HttpReadyAsync"/>) fails loudly, naming the URL, how long it waited
    /// and the last status, when /ready never answers 200, instead of letting the tests run against a server that is not ready.
    /// </summary>
    [Fact]
    public async Task Readiness_wait_throws_with_the_time_waited_when_ready_never_comes()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var started = await ServerFixture.Start(new StandInEngine(tokenizer, config), new ServerSettings());
        await using var app = started.App;

        var e = await Assert.ThrowsAsync<TimeoutException>(() => Waits.HttpReadyAsync(started.BaseUri, "ready", TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken));
        Assert.Contains($"GET {started.BaseUri}ready", e.Message);
        Assert.Matches(@"after waiting 1\.\d s \(limit 1 s, \d+ checks\); last check: HTTP 503", e.Message);
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
        var started = await ServerFixture.Start(engine, new ServerSettings());
        await using var app = started.App;
        using var http = new HttpClient { BaseAddress = started.BaseUri };

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
