using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Grpc.Core;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Grpc;
using InferenceServer.Server.Observability;
using InferenceServer.Server.OpenAi;
using InferenceServer.Server.Security;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// Admission at the door for generation requests (POST /v1/completions and /v1/chat/completions, gRPC Generate and
/// Complete), after the API key check and before any parsing (REST bodies are not read at all; gRPC messages have
/// only been checked for size and UTF-8 by GrpcGate), with two concurrency limits from System.Threading.RateLimiting:
/// <list type="bullet">
/// <item>per client (<c>--max-concurrent-requests-per-client</c>): a client is its API key when keys are set, else its
/// IP address; one client's burst or retry storm then holds at most this many slots and the rest stay open to others;</item>
/// <item>over all clients (<c>--max-concurrent-requests</c>): what the engine can hold, running and queued.</item>
/// </list>
/// A refusal costs no body parsing, tokenization or engine work, so a storm of retries does not eat the accepted
/// requests' throughput. It is a 429 with OpenAI's rate-limit error object (type "requests", code
/// "rate_limit_exceeded") and a Retry-After computed from the measured drain rate (<see cref="DrainRate"/>); over gRPC
/// RESOURCE_EXHAUSTED with the same wait in <c>grpc-retry-pushback-ms</c>. Refusals are counted in
/// <c>inference_admission_rejections_total{reason}</c> and not logged one by one.
/// </summary>
public sealed class AdmissionControl : IDisposable
{
    private readonly IInferenceEngine _engine;
    private readonly int _limit, _perClientLimit;
    private readonly ConcurrencyLimiter? _all;
    private readonly PartitionedRateLimiter<string>? _perClient;
    private int _admitted;

    public AdmissionControl(ServerSettings settings, IInferenceEngine engine, TimeProvider? clock = null)
    {
        _engine = engine;
        _limit = settings.MaxConcurrentRequests;
        _perClientLimit = settings.MaxConcurrentRequestsPerClient;
        Rate = new DrainRate(clock ?? TimeProvider.System);
        if (_limit > 0)
            _all = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = _limit, QueueLimit = 0 });
        if (_perClientLimit > 0)
            _perClient = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetConcurrencyLimiter(client,
                _ => new ConcurrencyLimiterOptions { PermitLimit = _perClientLimit, QueueLimit = 0 }));
    }

    public DrainRate Rate { get; }

    /// <summary>Generation requests admitted and not yet finished.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>The requests the limits apply to: the ones that make the engine generate.</summary>
    public static bool IsGeneration(HttpRequest request)
    {
        string path = (request.Path.Value ?? "/").TrimEnd('/');
        if (GrpcRequests.IsGrpc(request))
            return path is "/" + GrpcHosting.ServiceName + "/Generate" or "/" + GrpcHosting.ServiceName + "/Complete";
        return HttpMethods.IsPost(request.Method)
               && (path.Equals("/v1/completions", StringComparison.OrdinalIgnoreCase) || path.Equals("/v1/chat/completions", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The client a request counts against: a hash of its Authorization header when API keys are on (it has passed the
    /// key check by now, so this is one of the keys, never kept or logged in clear), else its remote IP address.
    /// </summary>
    public static string ClientOf(HttpContext ctx, bool keys) => keys
        ? "key:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ctx.Request.Headers.Authorization.ToString())), 0, 8)
        : "ip:" + (ctx.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    public void Use(IApplicationBuilder app, bool keys) => app.Use(async (ctx, next) =>
    {
        if (!IsGeneration(ctx.Request))
        {
            await next(ctx);
            return;
        }
        bool grpc = GrpcRequests.IsGrpc(ctx.Request);
        // The engine's own queue limit answers 429 from the endpoint; it gets the same measured Retry-After.
        if (!grpc)
            ctx.Response.OnStarting(() =>
            {
                if (ctx.Response.StatusCode == StatusCodes.Status429TooManyRequests)
                    ctx.Response.Headers.RetryAfter = Rate.RetryAfterSeconds(_engine.GetLoad().Waiting + 1).ToString(CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            });
        string client = ClientOf(ctx, keys);
        using var clientLease = _perClient?.AttemptAcquire(client);
        if (clientLease is { IsAcquired: false })
        {
            long held = _perClientLimit - (_perClient!.GetStatistics(client)?.CurrentAvailablePermits ?? 0);
            // This client's requests finish at about its share of the drain rate: Admitted / held of it.
            int wait = Rate.RetryAfterSeconds((double)Math.Max(Admitted, 1) / Math.Max(held, 1));
            await Refuse(ctx, grpc, "client", wait,
                $"Rate limit reached: this client already has {_perClientLimit} generation requests running or queued (--max-concurrent-requests-per-client). Please try again in {wait} s.");
            return;
        }
        using var lease = _all?.AttemptAcquire();
        if (lease is { IsAcquired: false })
        {
            int wait = Rate.RetryAfterSeconds(_engine.GetLoad().Waiting + 1);
            await Refuse(ctx, grpc, "server", wait,
                $"The server is at capacity: {_limit} generation requests are running or queued (--max-concurrent-requests). Please try again in {wait} s.");
            return;
        }
        Interlocked.Increment(ref _admitted);
        try
        {
            await next(ctx);
        }
        finally
        {
            Interlocked.Decrement(ref _admitted);
            Rate.Finished();
        }
    });

    private static Task Refuse(HttpContext ctx, bool grpc, string reason, int retryAfterSeconds, string message)
    {
        ErrorMetrics.RecordRejection(reason);
        if (grpc)
        {
            ctx.Response.Headers["grpc-retry-pushback-ms"] = (retryAfterSeconds * 1000).ToString(CultureInfo.InvariantCulture);
            GrpcGate.WriteStatus(ctx, StatusCode.ResourceExhausted, message);
            return Task.CompletedTask;
        }
        ctx.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return ErrorResponses.Write(ctx, RateLimited(message));
    }

    /// <summary>OpenAI's 429 error object: type "requests" (a request-count limit, as opposed to "tokens"), code "rate_limit_exceeded".</summary>
    public static ApiException RateLimited(string message) => new(429, message, type: "requests", code: "rate_limit_exceeded");

    public void Dispose()
    {
        _all?.Dispose();
        _perClient?.Dispose();
    }
}
