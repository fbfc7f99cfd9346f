using InferenceServer.Engine.Models;
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

    public void Dispose() => Model.Dispose();
}
