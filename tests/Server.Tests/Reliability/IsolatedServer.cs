using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using Microsoft.AspNetCore.Builder;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// A real server (Kestrel on 127.0.0.1, port 0) on its own tiny-llama engine, for tests that load the engine as a
/// whole and must see it idle afterwards without other tests' requests in the way.
/// </summary>
internal sealed class IsolatedServer : IAsyncDisposable
{
    public LlmEngine Engine { get; private init; } = null!;
    public WebApplication App { get; private init; } = null!;
    public Uri Rest { get; private init; } = null!;
    public Uri Grpc { get; private init; } = null!;

    public static async Task<IsolatedServer> StartAsync(ServerSettings settings, EngineOptions? options = null)
    {
        var engine = ServerFixture.StartEngine(options ?? new EngineOptions { MaxModelLen = 256, NumKvBlocks = 512 });
        try
        {
            var (app, rest, grpc) = await ServerFixture.Start(engine, settings with { ServedModelNames = [ServerFixture.Model] });
            await Waits.HttpReadyAsync(rest, "ready", ServerFixture.ReadyTimeout);
            return new IsolatedServer { Engine = engine, App = app, Rest = rest, Grpc = grpc };
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    public HttpClient Http(string? apiKey = null)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = Rest, Timeout = TimeSpan.FromMinutes(2) };
        if (apiKey is not null) http.DefaultRequestHeaders.Authorization = Tests.Http.Bearer(apiKey);
        return http;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        Engine.Dispose();
    }
}
