using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.OpenAi;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// The engine the front ends hold from the moment the server listens, before the model exists: not ready (so /ready is
/// 503, gRPC health NOT_SERVING, and the API routes answer 503 "still loading" through their readiness checks), no load
/// (the gauges read zeros), and an observer kept for the real engine. <see cref="Complete"/> hands over the loaded,
/// warmed-up engine; from then on every member is the real engine's.
/// </summary>
public sealed class LoadingEngine : IInferenceEngine
{
    private readonly Lock _gate = new();
    private readonly EngineStats _noStats = new();
    private volatile IInferenceEngine? _engine;
    private IEngineObserver? _observer;

    /// <summary>The real engine, once <see cref="Complete"/> has run; null while the model loads.</summary>
    public IInferenceEngine? Engine => _engine;

    public void Complete(IInferenceEngine engine)
    {
        lock (_gate)
        {
            if (_engine is not null) throw new InvalidOperationException("The engine was already handed over.");
            if (_observer is not null) engine.Observer = _observer;
            _engine = engine;
        }
    }

    public bool IsReady => _engine?.IsReady == true;
    public EngineStats Stats => _engine?.Stats ?? _noStats;
    public EngineLoad GetLoad() => _engine?.GetLoad() ?? new EngineLoad(0, 0, 0, 0, 0);

    public IEngineObserver? Observer
    {
        get { lock (_gate) return _engine is { } e ? e.Observer : _observer; }
        set
        {
            lock (_gate)
            {
                if (_engine is { } e) e.Observer = value;
                else _observer = value;
            }
        }
    }

    public ModelConfig Config => Loaded.Config;
    public TorchSharp.torch.ScalarType Dtype => Loaded.Dtype;
    public ITokenizer Tokenizer => Loaded.Tokenizer;
    public TokenizerConfig TokenizerConfig => Loaded.TokenizerConfig;
    public int MaxModelLen => Loaded.MaxModelLen;

    public IAsyncEnumerable<GenerationOutput> Submit(GenerationRequest request, CancellationToken cancellationToken) =>
        Loaded.Submit(request, cancellationToken);

    /// <summary>Routes check <see cref="IsReady"/> first; one that reaches the model anyway gets the same 503.</summary>
    private IInferenceEngine Loaded => _engine
        ?? throw new ApiException(503, "The model is still loading; retry shortly.", type: "server_error", code: "service_unavailable");
}
