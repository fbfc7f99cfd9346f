using InferenceServer.Engine.Serving;
using InferenceServer.Server.Loading;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// The server listening while the model loads: Kestrel starts first on a <see cref="LoadingEngine"/>, so probes get
/// answers for the whole load (/health 200 at once, /ready 503 until the model is loaded, quantized and warmed up), and
/// the load, the engine's KV sizing and its warm-up run on their own thread. A Kubernetes startup probe and the
/// container HEALTHCHECK therefore see a live process during a load of minutes instead of a refused connection.
/// </summary>
public sealed class LoadingServer : IAsyncDisposable
{
    private LoadingServer(WebApplication app, LoadingEngine engine, Task<LlmEngine> ready)
    {
        App = app;
        Engine = engine;
        Ready = ready;
    }

    public WebApplication App { get; }

    /// <summary>What the front ends hold; <see cref="LoadingEngine.Engine"/> is the real engine once loaded.</summary>
    public LoadingEngine Engine { get; }

    /// <summary>Completes once the engine is started and handed over; faults with the load's exception.</summary>
    public Task<LlmEngine> Ready { get; }

    /// <param name="load">Loads (and calibrates, quantizes) the model; runs on a dedicated background thread.</param>
    /// <param name="log">Receives the engine's start-up lines (KV sizing, warm-up).</param>
    public static async Task<LoadingServer> StartAsync(Func<LoadedModel> load, EngineOptions engineOptions, ServerSettings settings,
        Action<string>? log = null, string[]? args = null, Action<WebApplicationBuilder>? configure = null, CancellationToken ct = default)
    {
        var loading = new LoadingEngine();
        var app = ServerHost.Build(loading, settings, args, configure);
        try
        {
            await app.StartAsync(ct);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        // A background thread: a shutdown during the load does not wait for it (the process exits when Main returns).
        var ready = Task.Factory.StartNew(() => LoadAndStart(load, engineOptions, loading, log), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return new LoadingServer(app, loading, ready);
    }

    private static LlmEngine LoadAndStart(Func<LoadedModel> load, EngineOptions engineOptions, LoadingEngine loading, Action<string>? log)
    {
        var loaded = load();
        var engine = loaded.CreateEngine(engineOptions, log);
        try
        {
            engine.Start();
            loading.Complete(engine);
            return engine;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    /// <summary>Stops the web host, then disposes the engine if the load finished (a load still running is left to end with the process).</summary>
    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        if (Ready.IsCompletedSuccessfully) Ready.Result.Dispose();
    }
}
