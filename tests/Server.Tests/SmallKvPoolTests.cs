using System.Text.Json.Nodes;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>
/// The server on its own engine whose KV pool (128 tokens) is smaller than --max-model-len (512): a request that could
/// never fit is a 400 naming max_tokens, and a stream without max_tokens that fills the pool ends with "length" while
/// a request queued behind it is still served.
/// </summary>
public sealed class SmallKvPoolTests : IAsyncLifetime
{
    private LlmEngine _engine = null!;
    private Microsoft.AspNetCore.Builder.WebApplication _app = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        _engine = ServerFixture.StartEngine(new EngineOptions { MaxModelLen = 512, NumKvBlocks = 8 });
        Uri uri;
        (_app, uri, _) = await ServerFixture.Start(_engine, new ServerSettings { ServedModelNames = [ServerFixture.Model] });
        _http = new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromMinutes(2) };
        await Waits.HttpReadyAsync(uri, "ready", ServerFixture.ReadyTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        _engine.Dispose();
    }

    [Fact]
    public async Task Max_tokens_beyond_the_pool_is_a_400_naming_it()
    {
        var (status, body, _) = await Http.Post(_http, "v1/completions", new { model = ServerFixture.Model, prompt = "The committee", max_tokens = 300 });
        Assert.Equal(400, status);
        Assert.Equal("max_tokens", (string?)body!["error"]!["param"]);
        Assert.Contains("max_tokens (300)", (string?)body["error"]!["message"]);
        Assert.Contains("holds 128 tokens", (string?)body["error"]!["message"]);
    }

    [Fact]
    public async Task A_stream_that_fills_the_pool_ends_with_length_and_the_next_request_is_served()
    {
        var stream = Http.PostSse(_http, "v1/completions", new { model = ServerFixture.Model, prompt = "The committee", temperature = 0, ignore_eos = true, stream = true });
        var (status, body, _) = await Http.Post(_http, "v1/completions", new { model = ServerFixture.Model, prompt = "The film was", max_tokens = 8, temperature = 0, ignore_eos = true });
        var events = await stream.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

        Assert.Equal(200, status);
        Assert.Equal("length", (string?)body!["choices"]![0]!["finish_reason"]);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(e => JsonNode.Parse(e)!).ToList();
        Assert.Equal("length", chunks.Select(c => (string?)c["choices"]![0]!["finish_reason"]).Last(f => f is not null));
    }
}
