using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Core;

/// <summary>
/// Token-level stops, decided in one place on the engine thread: EOS (unless ignore_eos), stop token ids, max_tokens
/// and the model length. Stop strings need text, so the request side finds those (see Output.RequestOutputProcessor).
/// </summary>
/// <param name="eosTokenIds">The model's EOS ids and the tokenizer's.</param>
public sealed class StopChecker(IReadOnlyCollection<int> eosTokenIds, int maxModelLen)
{
    private readonly HashSet<int> _eos = [.. eosTokenIds];

    /// <summary>Whether the token at <paramref name="index"/> of the request is its last by max_tokens or the model length.</summary>
    public bool ReachesLimit(Request r, int index) => index + 1 - r.PromptLength >= r.MaxTokens || index + 1 >= maxModelLen;

    /// <summary>Why the request ends on <paramref name="token"/> at <paramref name="index"/>, if it does.</summary>
    public (FinishReason? Finish, object? StopReason, bool OnToken) Check(Request r, int token, int index)
    {
        var p = r.Sampling;
        bool stopToken = p.StopTokenIds.Contains(token);
        if (stopToken || (_eos.Contains(token) && !p.IgnoreEos))
            return (FinishReason.Stop, stopToken ? token : null, true);
        return (ReachesLimit(r, index) ? FinishReason.Length : null, null, false);
    }
}
