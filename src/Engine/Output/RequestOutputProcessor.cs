using InferenceServer.Engine.Requests;
using InferenceServer.Tokenization;

namespace InferenceServer.Engine.Output;

/// <summary>
/// The request side of one stream (vLLM v1's OutputProcessor for one request): turns the core's token outputs into
/// text with an incremental detokenizer, finds stop strings (cutting the text before them), and closes the stream
/// with usage. It runs on the thread that reads the stream, never on the engine thread.
/// </summary>
public sealed class RequestOutputProcessor(ITokenizer tokenizer, GenerationRequest request)
{
    private readonly IncrementalDetokenizer _detokenizer = new(tokenizer, request.PromptTokenIds, request.Sampling.SkipSpecialTokens);
    private readonly StopStringMatcher _stops = new(request.Sampling.Stop);

    /// <summary>A stop string ended the stream: the engine must be told, since it only knows token-level stops.</summary>
    public bool StoppedOnString => _stops.Matched is not null;

    /// <summary>Output tokens the client has received, the one that completed a stop string included.</summary>
    public int OutputTokens { get; private set; }

    public GenerationOutput Process(CoreOutput o)
    {
        OutputTokens = o.OutputTokens;
        var finish = o.Finish;
        object? stopReason = o.StopReason;
        string text = "";
        if (o.TokenId is int token && !o.StoppedOnToken)
        {
            text = _stops.Append(_detokenizer.Append(token));
            if (_stops.Matched is not null) { finish = FinishReason.Stop; stopReason = _stops.Matched; }
        }
        if (finish is not null && _stops.Matched is null)
            text += _stops.Append(_detokenizer.Flush()) + _stops.Flush();
        var logprobs = o.Logprob is { } lp ? new[] { lp } : null;
        var usage = finish is null ? null : new GenerationUsage(request.PromptTokenIds.Count, o.OutputTokens, o.CachedPromptTokens);
        return new GenerationOutput(o.TokenId is int id ? [id] : [], text, logprobs, finish, usage)
        {
            StopReason = stopReason,
            PromptLogprobs = o.PromptLogprobs,
        };
    }
}
