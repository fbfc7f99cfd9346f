using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Scheduling;

public enum RequestStatus
{
    Waiting,
    Running,
    Finished,
}

/// <summary>
/// The engine core's view of one request: its tokens (prompt, then output), how many of them already have keys and
/// values in the cache, and where it is in its life. Its blocks live in the <see cref="KvCache.KvCacheManager"/>.
/// </summary>
/// <param name="maxTokens">Output tokens allowed: max_tokens, or what the context leaves after the prompt.</param>
public sealed class Request(GenerationRequest source, long arrivalOrder, int maxTokens) : IDisposable
{
    /// <summary>The token id held where a sampled token has not reached the host yet (async scheduling).</summary>
    public const int Placeholder = -1;

    public GenerationRequest Source { get; } = source;
    public string Id => Source.RequestId;
    public SamplingParams Sampling => Source.Sampling;
    public long ArrivalOrder { get; } = arrivalOrder;
    public int MaxTokens { get; } = maxTokens;
    public RequestStatus Status { get; set; } = RequestStatus.Waiting;

    /// <summary>Prompt then generated tokens; the newest may be <see cref="Placeholder"/>s.</summary>
    public List<int> Tokens { get; } = [.. source.PromptTokenIds];
    public int PromptLength { get; } = source.PromptTokenIds.Count;
    public int OutputLength => Tokens.Count - PromptLength;

    /// <summary>Tokens whose keys/values are in the cache (or are being computed by a launched step).</summary>
    public int NumComputed { get; set; }

    /// <summary>Tokens still to be fed to the model before the next token can be sampled.</summary>
    public int NumUncomputed => Tokens.Count - NumComputed;

    /// <summary>
    /// Its last token (by max_tokens or the model length) is sampled but not yet read back (async scheduling):
    /// nothing is left to compute, so the scheduler passes it over until it finishes.
    /// </summary>
    public bool Finishing { get; set; }

    /// <summary>Finished on the engine thread (stopped, at its limit, or aborted): rows still in flight are dropped.</summary>
    public bool Done { get; set; }

    public int Preemptions { get; set; }
    public int CachedPromptTokens { get; set; }

    /// <summary>The prompt logprobs went out with the first token; a recompute after preemption does not redo them.</summary>
    public bool PromptLogprobsSent { get; set; }

    /// <summary>The seeded stream of a request with a seed; kept across preemptions so a seed gives the same tokens.</summary>
    public SequenceRandomState? Random { get; } = SequenceRandomState.For(source.Sampling);

    /// <summary>Phase timestamps for metrics and traces; arrival is construction time.</summary>
    public RequestTimestamps Times { get; } = new();

    public void Dispose() => Random?.Dispose();
}
