using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Tokenization;
using InferenceServer.Server.Hosting;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>States the real engine rarely shows on demand (loading, full queue), through a stand-in engine.</summary>
public sealed class FakeEngineTests
{
    private sealed class FakeEngine(ITokenizer tokenizer, TokenizerConfig config) : IInferenceEngine
    {
        public bool Ready { get; set; }
        public ModelConfig Config => throw new NotSupportedException();
        public ITokenizer Tokenizer => tokenizer;
        public TokenizerConfig TokenizerConfig => config;
        public int MaxModelLen => 256;
        public bool IsReady => Ready;
        public IAsyncEnumerable<GenerationOutput> Submit(GenerationRequest request, CancellationToken cancellationToken) =>
            throw new QueueFullException("The server is at capacity; retry later.");
        public EngineLoad GetLoad() => new(0, 0, 1, 1, 16);
    }

    [Fact]
    public async Task Loading_is_503_and_a_full_queue_is_429_with_retry_after()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var engine = new FakeEngine(tokenizer, config);
        int port;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
        }
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
}
