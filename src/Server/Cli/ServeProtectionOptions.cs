using System.CommandLine;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Cli;

/// <summary>
/// The serve flags of admission control and CORS (vLLM's CORS names). The concurrency limits default to what the
/// engine can hold: --max-num-seqs + --max-waiting over all clients, half of that per client.
/// </summary>
public sealed class ServeProtectionOptions
{
    public Option<int?> MaxConcurrent { get; } = new("--max-concurrent-requests")
    {
        Description = "Generation requests admitted at once over all clients; the next gets HTTP 429 (gRPC RESOURCE_EXHAUSTED) with Retry-After, before its body is read. Default: --max-num-seqs + --max-waiting. 0: no limit.",
    };

    public Option<int?> MaxConcurrentPerClient { get; } = new("--max-concurrent-requests-per-client")
    {
        Description = "Generation requests one client (its API key, or its IP address without keys) may have admitted at once, so one client's burst or retry storm cannot starve the others. Default: half of --max-concurrent-requests. 0: no limit.",
    };

    public Option<string[]> AllowedOrigins { get; } = new("--allowed-origins")
    {
        Description = "Origins browsers may call the API from (CORS), e.g. https://app.example.com; '*' for any. Default: none (no CORS headers).",
        AllowMultipleArgumentsPerToken = true,
    };

    public Option<string[]> AllowedMethods { get; } = new("--allowed-methods") { Description = "CORS methods allowed (default '*': any).", AllowMultipleArgumentsPerToken = true };
    public Option<string[]> AllowedHeaders { get; } = new("--allowed-headers") { Description = "CORS request headers allowed (default '*': any).", AllowMultipleArgumentsPerToken = true };
    public Option<bool> AllowCredentials { get; } = new("--allow-credentials") { Description = "CORS responses allow credentials (cookies, Authorization); needs explicit --allowed-origins." };

    public IEnumerable<Option> All => [MaxConcurrent, MaxConcurrentPerClient, AllowedOrigins, AllowedMethods, AllowedHeaders, AllowCredentials];

    public ServeProtectionOptions()
    {
        foreach (var o in new[] { MaxConcurrent, MaxConcurrentPerClient })
            o.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<int?>() is < 0) r.AddError($"{o.Name} must be 0 (no limit) or more.");
            });
    }

    /// <summary>The settings with these flags applied; <paramref name="engineCapacity"/> is --max-num-seqs + --max-waiting.</summary>
    public ServerSettings Apply(ParseResult p, ServerSettings s, int engineCapacity)
    {
        int all = p.GetValue(MaxConcurrent) ?? engineCapacity;
        int perClient = p.GetValue(MaxConcurrentPerClient) ?? (all > 0 ? Math.Max(1, all / 2) : 0);
        string[] origins = p.GetValue(AllowedOrigins) ?? [];
        bool credentials = p.GetValue(AllowCredentials);
        if (credentials && (origins.Length == 0 || origins.Contains("*")))
            throw new ArgumentException("--allow-credentials needs explicit --allowed-origins (browsers refuse credentials with '*').");
        return s with
        {
            MaxConcurrentRequests = all,
            MaxConcurrentRequestsPerClient = perClient,
            AllowedOrigins = origins,
            AllowedMethods = p.GetValue(AllowedMethods) is { Length: > 0 } m ? m : ["*"],
            AllowedHeaders = p.GetValue(AllowedHeaders) is { Length: > 0 } h ? h : ["*"],
            AllowCredentials = credentials,
        };
    }
}
