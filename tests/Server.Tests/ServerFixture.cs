using System.Net;
using System.Net.Sockets;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using Microsoft.AspNetCore.Builder;
using static TorchSharp.torch;

[assembly: AssemblyFixture(typeof(InferenceServer.Server.Tests.ServerFixture))]

namespace InferenceServer.Server.Tests;

/// <summary>One real engine on tiny-llama (CPU fp32) behind the real Kestrel server on a loopback port, shared by all tests.</summary>
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
        var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        // A short context keeps the "prompt longer than the context" case cheap.
        Engine = new LlmEngine(model, tokenizer, config, new EngineOptions { MaxModelLen = 256, NumKvBlocks = 256 });
        Engine.Start();
        (App, BaseUri, GrpcUri) = await StartServerWithGrpc(new ServerSettings { ServedModelNames = [Model], MaxRequestBodyBytes = BodyLimit });
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromMinutes(2) };
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!Engine.IsReady && DateTime.UtcNow < deadline) await Task.Delay(50);
    }

    /// <summary>Starts another server on the shared engine (e.g. with an API key).</summary>
    public async Task<(WebApplication App, Uri BaseUri)> StartServer(ServerSettings settings)
    {
        var (app, uri, _) = await StartServerWithGrpc(settings);
        return (app, uri);
    }

    /// <summary>Like <see cref="StartServer"/>, also returning the gRPC port's address.</summary>
    public async Task<(WebApplication App, Uri BaseUri, Uri GrpcUri)> StartServerWithGrpc(ServerSettings settings)
    {
        int port = FreePort(), grpcPort = FreePort();
        var app = ServerHost.Build(Engine, settings with { Host = "127.0.0.1", Port = port, GrpcPort = grpcPort }, ["--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync();
        return (app, new Uri($"http://127.0.0.1:{port}/"), new Uri($"http://127.0.0.1:{grpcPort}"));
    }

    public static int FreePort() => InferenceServer.TestSupport.Ports.FreeLoopback();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Engine.Dispose();
    }
}
