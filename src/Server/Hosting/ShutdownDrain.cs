using Grpc.Core;
using InferenceServer.Server.Grpc;
using InferenceServer.Server.OpenAi;
using InferenceServer.Server.Security;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// Graceful shutdown (<c>serve --shutdown-timeout SECONDS</c>). When shutdown starts (SIGTERM, Ctrl+C, StopAsync) the
/// server stops admitting at once: /ready answers 503, gRPC health NOT_SERVING, new requests 503 with an OpenAI error
/// object (gRPC: UNAVAILABLE), while the ports stay open so load balancers see why. Requests already running get the
/// drain period to finish; at its deadline <see cref="Deadline"/> fires, which ends every engine stream still open
/// (<see cref="DrainingEngine"/>): SSE streams with a last <c>data: {"error": ...}</c> event and <c>data: [DONE]</c>,
/// gRPC calls with UNAVAILABLE, so clients can tell a cut from a finish. Only then does Kestrel stop.
/// </summary>
public sealed class ShutdownDrain(TimeSpan drain) : IDisposable
{
    /// <summary>
    /// Time the host allows past the drain period (HostOptions.ShutdownTimeout = drain + this) to write the final events
    /// and close the connections; after it the host aborts whatever is left.
    /// </summary>
    public static readonly TimeSpan FinalWriteGrace = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _deadline = new();
    private int _stopping;
    private int _inFlight;

    public TimeSpan Drain { get; } = drain;

    /// <summary>True from the moment shutdown starts.</summary>
    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>Fires <see cref="Drain"/> after shutdown starts.</summary>
    public CancellationToken Deadline => _deadline.Token;

    /// <summary>Requests admitted and not yet finished (probes and gRPC health/reflection not counted).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Starts the drain (idempotent): called from ApplicationStopping and the host's stopping phase, whichever comes first.</summary>
    public void Begin()
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0) return;
        try
        {
            _deadline.CancelAfter(Drain);
        }
        catch (ObjectDisposedException) { }
    }

    /// <summary>Waits until no admitted request is left, at most until <paramref name="ct"/> (the host's shutdown limit).</summary>
    public async Task WaitIdleAsync(CancellationToken ct)
    {
        try
        {
            while (InFlight > 0) await Task.Delay(20, ct);
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The error that ends a request cut at the deadline: 503 over REST (an SSE error event mid-stream), UNAVAILABLE over gRPC.</summary>
    public ApiException Cut() => new(503,
        $"The server shut down before this request finished: the {Drain.TotalSeconds:0.###} s drain period (--shutdown-timeout) ran out.",
        type: "server_error", code: "service_unavailable");

    public static ApiException Refusal() => new(503, "The server is shutting down and accepts no new requests; retry on another replica.",
        type: "server_error", code: "service_unavailable");

    /// <summary>
    /// Middleware: refuses new requests once shutdown started (/health stays 200 for liveness; /ready and gRPC health
    /// report the shutdown) and counts the admitted ones, so the stopping phase knows when the drain is done.
    /// </summary>
    public void Use(IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        var path = ctx.Request.Path;
        string value = path.Value ?? "/";
        bool grpc = GrpcRequests.IsGrpc(ctx.Request);
        bool probe = ServiceRoutes.Health.Contains(value, StringComparer.OrdinalIgnoreCase) || path.Equals("/metrics")
            || (grpc && (ServiceRoutes.IsGrpcHealth(value) || ServiceRoutes.IsGrpcReflection(value)));
        if (IsStopping && !probe)
        {
            var refusal = Refusal();
            if (grpc) GrpcGate.WriteStatus(ctx, StatusCode.Unavailable, refusal.Message);
            else await ErrorResponses.Write(ctx, refusal);
            return;
        }
        if (probe)
        {
            if (IsStopping && path.Equals("/ready"))
            {
                await ErrorResponses.Write(ctx, new ApiException(503, "The server is shutting down.", type: "server_error", code: "service_unavailable"));
                return;
            }
            await next(ctx);
            return;
        }
        Interlocked.Increment(ref _inFlight);
        try
        {
            await next(ctx);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    });

    public void Dispose() => _deadline.Dispose();
}

/// <summary>
/// Runs the drain in the host's stopping phase, which comes before any hosted service stops (Kestrel included), so
/// the ports keep answering 503 while the admitted requests finish or are cut at the deadline.
/// </summary>
internal sealed class ShutdownDrainService(ShutdownDrain drain, IHostApplicationLifetime lifetime) : IHostedLifecycleService
{
    private CancellationTokenRegistration _onStopping;

    public Task StartingAsync(CancellationToken ct)
    {
        // SIGTERM / Ctrl+C go through StopApplication first; start the drain clock there.
        _onStopping = lifetime.ApplicationStopping.Register(drain.Begin);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken ct)
    {
        drain.Begin();
        return drain.WaitIdleAsync(ct);
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken ct)
    {
        _onStopping.Dispose();
        return Task.CompletedTask;
    }
}
