using System.Threading.Channels;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Tokenization;

namespace InferenceServer.Engine.Serving;

/// <summary>Engine-thread state of one request: its sequence, output channel, detokenizer and stop matcher.</summary>
internal sealed class RequestState : IDisposable
{
    public Sequence Sequence { get; }
    public Channel<GenerationOutput> Output { get; } = Channel.CreateUnbounded<GenerationOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    public IncrementalDetokenizer Detokenizer { get; }
    public StopStringMatcher Stops { get; }
    public SequenceRandomState? Random { get; }
    public int MaxTokens { get; }
    public bool PromptLogprobsSent { get; set; }

    /// <summary>Prompt logprobs computed so far (a prompt may be prefilled in several chunks).</summary>
    public List<OutputLogprob?> PendingPromptLogprobs { get; } = [];
    public volatile bool Aborted;

    /// <summary>Finished (stopped, at its limit, or aborted) on the engine thread: rows still in flight are dropped.</summary>
    public bool Done { get; set; }

    /// <summary>Phase timestamps for metrics and traces (<see cref="IEngineObserver"/>); arrival is construction time.</summary>
    public RequestTimestamps Times { get; } = new();

    public RequestState(Sequence sequence, ITokenizer tokenizer, int maxTokens)
    {
        Sequence = sequence;
        var p = sequence.Request.Sampling;
        Detokenizer = new IncrementalDetokenizer(tokenizer, sequence.Request.PromptTokenIds, p.SkipSpecialTokens);
        Stops = new StopStringMatcher(p.Stop);
        Random = SequenceRandomState.For(p);
        MaxTokens = maxTokens;
    }

    public SamplingParams Sampling => Sequence.Request.Sampling;

    public void Dispose() => Random?.Dispose();
}
