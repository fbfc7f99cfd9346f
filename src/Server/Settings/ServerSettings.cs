namespace InferenceServer.Server.Settings;

/// <summary>Front-end settings of <c>serve</c>.</summary>
public sealed record ServerSettings
{
    public string Host { get; init; } = "0.0.0.0";
    public int Port { get; init; } = 8000;
    public int GrpcPort { get; init; } = 8001;
    public IReadOnlyList<string> ServedModelNames { get; init; } = ["tiny-llama"];
    public string? ApiKey { get; init; }

    /// <summary>Weight quantization method the model was loaded with, as reported by gRPC ModelInfo.</summary>
    public string Quantization { get; init; } = "none";

    /// <summary>Largest request body accepted (HTTP 413 beyond).</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 << 20;

    /// <summary>
    /// Drain period after shutdown starts (<c>--shutdown-timeout</c>): new requests get 503 at once, running ones get
    /// this long to finish, then open streams end with an error event (gRPC: UNAVAILABLE).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string ModelName => ServedModelNames[0];
}
