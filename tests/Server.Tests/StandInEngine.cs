using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.Tests;

/// <summary>
/// An engine that shows on demand the states the real one rarely does (still loading, a full queue), for the REST and
/// gRPC front ends' tests.
/// </summary>
internal sealed class StandInEngine(ITokenizer tokenizer, TokenizerConfig config) : IInferenceEngine
{
    public bool Ready { get; set; }
    public ModelConfig Config => throw new NotSupportedException();
    public ITokenizer Tokenizer => tokenizer;
    public TokenizerConfig TokenizerConfig => config;
    public int MaxModelLen => 256;
    public bool IsReady => Ready;
    public TorchSharp.torch.ScalarType Dtype => TorchSharp.torch.ScalarType.Float32;

    /// <summary>Never updated: nothing steps here.</summary>
    public EngineStats Stats { get; } = new();

    public IEngineObserver? Observer { get; set; }

    /// <summary>Null: every submission finds the queue full.</summary>
    public Func<GenerationRequest, IAsyncEnumerable<GenerationOutput>>? Generate { get; set; }

    public EngineLoad Load { get; set; } = new(0, 0, 1, 1, 16);

    public IAsyncEnumerable<GenerationOutput> Submit(GenerationRequest request, CancellationToken cancellationToken) =>
        Generate?.Invoke(request) ?? throw new QueueFullException("The server is at capacity; retry later.");

    public EngineLoad GetLoad() => Load;
}
