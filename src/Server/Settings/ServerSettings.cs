using System.Text;

namespace InferenceServer.Server.Settings;

/// <summary>Front-end settings of <c>serve</c>.</summary>
public sealed record ServerSettings
{
    public string Host { get; init; } = "0.0.0.0";
    public int Port { get; init; } = 8000;
    public int GrpcPort { get; init; } = 8001;
    public IReadOnlyList<string> ServedModelNames { get; init; } = ["tiny-llama"];

    /// <summary>
    /// Accepted API keys (<c>--api-key</c>, repeatable; <c>--api-key-file</c>; INFERENCE_API_KEY / VLLM_API_KEY): any
    /// one of them is accepted. Empty: no key needed. Never printed (<see cref="ToString"/> redacts them).
    /// </summary>
    public IReadOnlyList<string> ApiKeys { get; init; } = [];

    /// <summary>One key (the first of <see cref="ApiKeys"/>); setting it replaces the list with that key.</summary>
    public string? ApiKey
    {
        get => ApiKeys.Count > 0 ? ApiKeys[0] : null;
        init => ApiKeys = string.IsNullOrEmpty(value) ? [] : [value];
    }

    /// <summary><c>--protect-health</c>: with a key set, /health, /ready and gRPC health need it too.</summary>
    public bool ProtectHealth { get; init; }

    /// <summary>
    /// <c>--protect-metrics</c>: with a key set, /metrics and the API descriptions (/openapi/v1.json, /docs, gRPC
    /// reflection) need it too.
    /// </summary>
    public bool ProtectMetrics { get; init; }

    /// <summary><c>--rest-on-grpc-port</c>: also serve the REST routes (over h2c) on the gRPC port; off, that port answers them 404.</summary>
    public bool RestOnGrpcPort { get; init; }

    /// <summary>
    /// Weight quantization method the model was loaded with, as reported by gRPC ModelInfo. Settable: <c>serve</c> listens
    /// before the model is loaded and sets it once loading has found it (ModelInfo answers only when ready).
    /// </summary>
    public string Quantization { get; set; } = "none";

    /// <summary>Largest request body accepted (HTTP 413 beyond).</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 << 20;

    /// <summary>
    /// Drain period after shutdown starts (<c>--shutdown-timeout</c>): new requests get 503 at once, running ones get
    /// this long to finish, then open streams end with an error event (gRPC: UNAVAILABLE).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>--max-concurrent-requests</c>: generation requests (REST completions and chat, gRPC Generate and Complete)
    /// admitted at once over all clients; the next one gets 429 at the door, before its body is read. 0: no limit here
    /// (the engine's own queue limit still applies).
    /// </summary>
    public int MaxConcurrentRequests { get; init; }

    /// <summary>
    /// <c>--max-concurrent-requests-per-client</c>: generation requests one client may have admitted at once (a client
    /// is its API key when keys are set, else its IP address), so one client's burst or retry storm cannot take every
    /// slot. 0: no per-client limit.
    /// </summary>
    public int MaxConcurrentRequestsPerClient { get; init; }

    /// <summary><c>--allowed-origins</c>: origins browsers may call from (CORS); empty: no CORS headers, "*": any.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary><c>--allowed-methods</c> / <c>--allowed-headers</c>: CORS methods and request headers; "*" (the default) allows any.</summary>
    public IReadOnlyList<string> AllowedMethods { get; init; } = ["*"];

    public IReadOnlyList<string> AllowedHeaders { get; init; } = ["*"];

    /// <summary><c>--allow-credentials</c>: CORS responses allow credentials (needs explicit origins, not "*").</summary>
    public bool AllowCredentials { get; init; }

    /// <summary>
    /// <c>--log-level</c>: trace, debug, information, warning, error, critical or none. Per-request lines are written at
    /// information; ASP.NET Core's own request logs stay at warning unless this is debug or trace.
    /// </summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    /// <summary><c>--tool-call-parser</c>: the vLLM name of the parser that reads tool calls from output (hermes, llama3_json, mistral), or null.</summary>
    public string? ToolCallParser { get; init; }

    /// <summary><c>--enable-auto-tool-choice</c>: tool_choice "auto" is served (it needs <see cref="ToolCallParser"/>).</summary>
    public bool EnableAutoToolChoice { get; init; }

    public string ModelName => ServedModelNames[0];

    /// <summary>The record's printout with the API keys redacted (only their number shows), so a settings dump never leaks one.</summary>
    private bool PrintMembers(StringBuilder b)
    {
        b.Append($"Host = {Host}, Port = {Port}, GrpcPort = {GrpcPort}, ServedModelNames = [{string.Join(", ", ServedModelNames)}], ");
        b.Append($"ApiKeys = [{ApiKeys.Count} redacted], ProtectHealth = {ProtectHealth}, ProtectMetrics = {ProtectMetrics}, RestOnGrpcPort = {RestOnGrpcPort}, ");
        b.Append($"Quantization = {Quantization}, MaxRequestBodyBytes = {MaxRequestBodyBytes}, ShutdownTimeout = {ShutdownTimeout}, ");
        b.Append($"MaxConcurrentRequests = {MaxConcurrentRequests}, MaxConcurrentRequestsPerClient = {MaxConcurrentRequestsPerClient}, ");
        b.Append($"AllowedOrigins = [{string.Join(", ", AllowedOrigins)}], AllowedMethods = [{string.Join(", ", AllowedMethods)}], ");
        b.Append($"AllowedHeaders = [{string.Join(", ", AllowedHeaders)}], AllowCredentials = {AllowCredentials}, LogLevel = {LogLevel}, ");
        b.Append($"ToolCallParser = {ToolCallParser ?? "none"}, EnableAutoToolChoice = {EnableAutoToolChoice}");
        return true;
    }
}
