using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.Loading;

/// <summary>
/// A loaded model with its tokenizer, ready to be served or evaluated. Its own namespace, below Cli (which loads it)
/// and Hosting (which serves it), so that neither has to reference the other for it.
/// </summary>
public sealed record LoadedModel(ICausalLM Model, ITokenizer Tokenizer, TokenizerConfig TokenizerConfig, string ModelDir) : IDisposable
{
    /// <summary>What the model was built with (after calibration: the calibrated quant method and weight transform).</summary>
    public ModelOptions? Options { get; init; }

    /// <summary>Every rank's share when the model is split (--tensor-parallel-size); <see cref="Model"/> is rank 0's.</summary>
    public ShardedModel? Sharded { get; init; }

    /// <summary>The engine over this model: one runner, or one per tensor-parallel rank.</summary>
    public LlmEngine CreateEngine(EngineOptions options, Action<string>? log) => Sharded is { } s
        ? new LlmEngine(s, Tokenizer, TokenizerConfig, options, log)
        : new LlmEngine(Model, Tokenizer, TokenizerConfig, options, log);

    public void Dispose()
    {
        if (Sharded is not null) Sharded.Dispose();
        else Model.Dispose();
    }
}
