using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using Microsoft.AspNetCore.Builder;
using static TorchSharp.torch;

[assembly: AssemblyFixture(typeof(InferenceServer.Server.Tests.ServerFixture))]

namespace InferenceServer.Server.Tests;

/// <summary>
/// One real engine on tiny-llama (CPU fp32) behind the real Kestrel server on loopback ports the OS picks, shared by all
/// tests. Tests that assert on the whole engine (idle, abort counts) run in <see cref="EngineStateCollection"/>.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string Model = "tiny-llama";
    public const long BodyLimit = 64 * 1024;

    public LlmEngine Engine { get; private set; } = null!;
    public WebApplication App { get; private set; } = null!;
    public Uri BaseUri { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    /// <summary>The gRPC (HTTP/2-only) port of the main server, as http://127.0.0.1:PORT.</summary>
    public Uri GrpcUri { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        // A short context keeps the "prompt longer than the context" case cheap.
        Engine = StartEngine(new EngineOptions { MaxModelLen = 256, NumKvBlocks = 256 });
        (App, BaseUri, GrpcUri) = await StartServerWithGrpc(new ServerSettings { ServedModelNames = [Model], MaxRequestBodyBytes = BodyLimit });
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromMinutes(2) };
        // /ready is 503 until the engine has loaded and run its warm-up step; a fixture that never gets there fails
        // every test with this message rather than letting them run against a server that is not ready.
        await Waits.HttpReadyAsync(BaseUri, "ready", ReadyTimeout);
    }

    /// <summary>A started engine of its own on tiny-llama (CPU, fp32), or on another folder holding its files.</summary>
    public static LlmEngine StartEngine(EngineOptions options, string? modelDir = null)
    {
        modelDir ??= RepoPaths.TinyLlama;
        var model = ModelFactory.Load(new ModelOptions { ModelDir = modelDir, Device = CPU, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(modelDir);
        var engine = new LlmEngine(model, tokenizer, config, options);
        engine.Start();
        return engine;
    }

    /// <summary>How long the fixture waits for /ready (tiny-llama on CPU is ready in well under a second).</summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Starts another server on the shared engine (e.g. with an API key).</summary>
    public async Task<(WebApplication App, Uri BaseUri)> StartServer(ServerSettings settings)
    {
        var (app, uri, _) = await StartServerWithGrpc(settings);
        return (app, uri);
    }

    /// <summary>Like <see cref="StartServer"/>, also returning the gRPC port's address.</summary>
    public Task<(WebApplication App, Uri BaseUri, Uri GrpcUri)> StartServerWithGrpc(ServerSettings settings) => Start(Engine, settings);

    /// <summary>
    /// Builds and starts the real server on <paramref name="engine"/> (the shared one or a stand-in), both endpoints on
    /// 127.0.0.1 port 0, and returns the addresses Kestrel bound: REST as http://127.0.0.1:PORT/, gRPC (h2c) as
    /// http://127.0.0.1:PORT. Ports in <paramref name="settings"/> are ignored, so no test can bind a fixed port.
    /// </summary>
    public static async Task<(WebApplication App, Uri BaseUri, Uri GrpcUri)> Start(IInferenceEngine engine, ServerSettings settings)
    {
        var app = ServerHost.Build(engine, settings with { Host = "127.0.0.1", Port = 0, GrpcPort = 0 }, ["--Logging:LogLevel:Default=Warning"]);
        try
        {
            await app.StartAsync(TestContext.Current.CancellationToken);
            var (rest, grpc) = await BoundAddresses.RestAndGrpcAsync(app.Urls, TestContext.Current.CancellationToken);
            return (app, rest, grpc);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Engine.Dispose();
    }
}
